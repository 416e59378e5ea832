//go:build linux

package integration

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noKeyBlock reaches the main server with no key to offer and no agent:
// the only login left is one that only OpenSSH's ssh can take, if any.
func noKeyBlock(alias string) string {
	return strings.Replace(mainServerBlock(alias), "IdentityFile "+server.userKey, "IdentityFile ~/.ssh/none\n    IdentitiesOnly yes\n    IdentityAgent none", 1)
}

// withoutSSH adds a PATH with no ssh in it when !withSSH: sftpmount then
// reads the files itself instead of asking ssh -G.
func withoutSSH(t *testing.T, env []string, withSSH bool) []string {
	if withSSH {
		return env
	}
	return append(env, pathWithoutSSH(t))
}

// A login method that Go's SSH cannot take, set in the user's own file,
// is never dropped in silence: when no other login works, the mount
// fails with the login's exit code (6) and one line that names the
// setting, the file that set it, and -o ssh_command=ssh.
func TestALoginOnlySSHCanDoFailsNamingTheSettingAndSSHCommand(t *testing.T) {
	needServer(t)
	for _, setting := range []string{"GSSAPIAuthentication yes", "PKCS11Provider /usr/lib/p11.so",
		"SecurityKeyProvider /usr/lib/sk.so", "ControlMaster auto\n    ControlPath /tmp/cm-%C"} {
		keyword := strings.Fields(setting)[0]
		for _, withSSH := range []bool{true, false} {
			env, _ := homeWithConfig(t, noKeyBlock("files")+"    "+setting+"\n")
			line := refused(t, 6, withoutSSH(t, env, withSSH), "files:/tmp", newMountpoint(t))
			if !strings.Contains(line, "authentication as root") || !strings.Contains(line, keyword+" ") ||
				!strings.Contains(line, "(~/.ssh/config)") || !strings.Contains(line, "-o ssh_command=ssh") {
				t.Errorf("%s, ssh installed %v: %q", keyword, withSSH, line)
			}
			if strings.Count(line, keyword) != 1 {
				t.Errorf("%s, ssh installed %v: named %d times: %q", keyword, withSSH, strings.Count(line, keyword), line)
			}
		}
	}
}

// The same setting in -F's file is named with that file (~ for the
// home).
func TestALoginOnlySSHCanDoInTheFFileIsNamedWithIt(t *testing.T) {
	needServer(t)
	for _, withSSH := range []bool{true, false} {
		env, home := homeWithConfig(t, "")
		config := filepath.Join(home, "other-config")
		known := filepath.Join(home, ".ssh", "known_hosts_tests")
		writeFile(t, config, strings.ReplaceAll(noKeyBlock("files"), "KNOWN", known)+"    PKCS11Provider /usr/lib/p11.so\n", 0600)
		line := refused(t, 6, withoutSSH(t, env, withSSH), "files:/tmp", newMountpoint(t), "-F", config)
		if !strings.Contains(line, "PKCS11Provider /usr/lib/p11.so (~/other-config)") || !strings.Contains(line, "-o ssh_command=ssh") {
			t.Errorf("ssh installed %v: %q", withSSH, line)
		}
	}
}

// Debian's /etc/ssh/ssh_config says GSSAPIAuthentication yes for every
// host: a mount that logs in by key says nothing of it, but a login that
// fails names it, and the file it came from.
func TestTheSystemsKerberosDefaultIsNamedOnlyWhenTheLoginFails(t *testing.T) {
	needServer(t)
	if !systemSaysGSSAPI() {
		if os.Getenv("CI") == "true" {
			t.Fatal("/etc/ssh/ssh_config does not say GSSAPIAuthentication yes, as Debian's does")
		}
		t.Skip("this machine's /etc/ssh/ssh_config does not say GSSAPIAuthentication yes, as Debian's does")
	}
	for _, withSSH := range []bool{true, false} {
		env, _ := homeWithConfig(t, mainServerBlock("files"))
		served, mnt := newServedDir(t, "root"), newMountpoint(t)
		r := runBinary(t, withoutSSH(t, env, withSSH), "files:"+served, mnt)
		mountedBy(t, r, mnt, served, "root")
		if r.stderr != "" {
			t.Errorf("ssh installed %v: a key login said %q", withSSH, r.stderr)
		}
		env, _ = homeWithConfig(t, noKeyBlock("files"))
		line := refused(t, 6, withoutSSH(t, env, withSSH), "files:/tmp", newMountpoint(t))
		if !strings.Contains(line, "GSSAPIAuthentication yes (/etc/ssh/ssh_config)") || !strings.Contains(line, "-o ssh_command=ssh") {
			t.Errorf("ssh installed %v: %q", withSSH, line)
		}
	}
}

// systemSaysGSSAPI reports whether /etc/ssh/ssh_config sets
// GSSAPIAuthentication yes outside any Host or Match block but Host *.
func systemSaysGSSAPI() bool {
	data, _ := os.ReadFile("/etc/ssh/ssh_config")
	all := true
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case strings.EqualFold(f[0], "Host") || strings.EqualFold(f[0], "Match"):
			all = len(f) == 2 && f[1] == "*" || strings.EqualFold(f[0], "Match") && len(f) == 2 && strings.EqualFold(f[1], "all")
		case all && len(f) == 2 && strings.EqualFold(f[0], "GSSAPIAuthentication") && strings.EqualFold(f[1], "yes"):
			return true
		}
	}
	return false
}

// Set in the user's own file, a login method only ssh can take is named
// once, in one line, when the mount logs in another way (here by key):
// that line says so and that -o ssh_command=ssh would log in with it.
// A ControlPath where a master connection is listening is named with it.
func TestALoginOnlySSHCanDoSetByTheUserIsNamedOnceWhenTheMountLogsInAnotherWay(t *testing.T) {
	needServer(t)
	sock := filepath.Join(t.TempDir(), "master")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, setting := range []string{"GSSAPIAuthentication yes", "ControlMaster auto\n    ControlPath " + sock} {
		keyword := strings.Fields(setting)[0]
		for _, withSSH := range []bool{true, false} {
			env, _ := homeWithConfig(t, mainServerBlock("files")+"    "+setting+"\n")
			served, mnt := newServedDir(t, "root"), newMountpoint(t)
			r := runBinary(t, withoutSSH(t, env, withSSH), "files:"+served, mnt)
			mountedBy(t, r, mnt, served, "root")
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], keyword+" ") || !strings.Contains(lines[0], "(~/.ssh/config)") ||
				!strings.Contains(lines[0], "logged in") || !strings.Contains(lines[0], "-o ssh_command=ssh") {
				t.Errorf("%s, ssh installed %v: %q", keyword, withSSH, r.stderr)
			}
			if keyword == "ControlMaster" && !strings.Contains(lines[0], "master connection is open at "+sock) {
				t.Errorf("ssh installed %v: the live master not named: %q", withSSH, r.stderr)
			}
		}
	}
}
