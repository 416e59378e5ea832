//go:build linux

package integration

import (
	"os"
	"strings"
	"testing"
)

// noKeyBlock reaches the main server with no key to offer: the only
// login left is one that only ssh can take, if any.
func noKeyBlock(alias string) string {
	return strings.Replace(mainServerBlock(alias), "IdentityFile "+server.userKey, "IdentityFile ~/.ssh/none\n    IdentitiesOnly yes", 1)
}

// A login method that Go's SSH cannot take, set in the user's own file,
// is never dropped in silence: when it was the only way in, the mount
// fails (exit 6) with one line that names it and says -o ssh_command=ssh
// will do it. (A mount that logs in by key names it once:
// TestIgnoredTrustSettingsAreNamedOnceAndSystemDefaultsNotAtAll.)
func TestALoginOnlySSHCanDoFailsNamingTheSettingAndSSHCommand(t *testing.T) {
	needServer(t)
	for _, setting := range []string{"GSSAPIAuthentication yes", "ControlPath /tmp/cm-none", "PKCS11Provider /usr/lib/p11.so", "SecurityKeyProvider /usr/lib/sk.so"} {
		for _, withSSH := range []bool{true, false} {
			env, _ := homeWithConfig(t, noKeyBlock("files")+"    "+setting+"\n")
			if !withSSH {
				env = append(env, pathWithoutSSH(t))
			}
			line := refused(t, 6, env, "files:/tmp", newMountpoint(t))
			if !strings.Contains(line, setting) || !strings.Contains(line, "-o ssh_command=ssh") {
				t.Errorf("%s, ssh installed %v: %q", setting, withSSH, line)
			}
		}
	}
}

// Debian's /etc/ssh/ssh_config says GSSAPIAuthentication yes for every
// host: a mount that logs in by key says nothing of it (the
// plain mount of TestIgnoredTrustSettingsAreNamedOnceAndSystemDefaultsNotAtAll),
// but a login that fails names it, and the file it came from.
func TestTheSystemsKerberosDefaultIsNamedOnlyWhenTheLoginFails(t *testing.T) {
	needServer(t)
	data, _ := os.ReadFile("/etc/ssh/ssh_config")
	if !strings.Contains(string(data), "\n    GSSAPIAuthentication yes") && !strings.Contains(string(data), "\nGSSAPIAuthentication yes") {
		t.Skip("this machine's /etc/ssh/ssh_config does not set GSSAPIAuthentication yes, as Debian's does")
	}
	for _, withSSH := range []bool{true, false} {
		env, _ := homeWithConfig(t, mainServerBlock("files"))
		if !withSSH {
			env = append(env, pathWithoutSSH(t))
		}
		served, mnt := newServedDir(t, "root"), newMountpoint(t)
		r := runBinary(t, env, "files:"+served, mnt)
		mountedBy(t, r, mnt, served, "root")
		if r.stderr != "" {
			t.Errorf("ssh installed %v: a key login said %q", withSSH, r.stderr)
		}
		env, _ = homeWithConfig(t, noKeyBlock("files"))
		if !withSSH {
			env = append(env, pathWithoutSSH(t))
		}
		line := refused(t, 6, env, "files:/tmp", newMountpoint(t))
		if !strings.Contains(line, "GSSAPIAuthentication yes (/etc/ssh/ssh_config)") || !strings.Contains(line, "-o ssh_command=ssh") {
			t.Errorf("ssh installed %v: %q", withSSH, line)
		}
	}
}
