//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pathWithoutSSH is a PATH that holds no ssh, as under mount(8): then
// sftpmount reads ssh_config itself instead of asking `ssh -G`.
func pathWithoutSSH(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"fusermount3", "sh"} {
		if p, err := findTool(tool); err == nil {
			os.Symlink(p, filepath.Join(dir, tool))
		}
	}
	return "PATH=" + dir
}

func findTool(name string) (string, error) {
	for _, d := range strings.Split(os.Getenv("PATH"), ":") {
		if p := filepath.Join(d, name); fileExists(p) {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// A user name holding a command (CVE-2023-51385) goes nowhere near a
// shell: given as user@host:, as -o User= or as User in ssh_config, it is
// refused with one line and exit 2 before ssh -G, a Match exec or a
// ProxyCommand with %r runs, with ssh installed and without it.
func TestUserNameWithShellMetacharactersIsRefusedBeforeAnyCommandRuns(t *testing.T) {
	needServer(t)
	markers := t.TempDir()
	n := 0
	attack := func() (user, marker string) {
		n++
		marker = filepath.Join(markers, fmt.Sprintf("pwned-%d", n))
		// No space: ssh -o would take one as the end of the value.
		return "x$(/usr/bin/touch$IFS" + marker + ")", marker
	}
	for _, withSSH := range []bool{true, false} {
		u1, m1 := attack()
		u2, m2 := attack()
		u3, m3 := attack()
		config := fmt.Sprintf(`Host viaproxy fromfile
    HostName 127.0.0.1
    Port %d
    IdentityFile %s
    UserKnownHostsFile KNOWN
    ProxyCommand /bin/true %%r
Host fromfile
    User %s
`, server.port, server.userKey, u3)
		if withSSH {
			// Only ssh -G evaluates Match exec; without ssh the files
			// are refused for it anyway.
			config = "Match exec \"/bin/true %r\"\n" + config
		}
		env, _ := homeWithConfig(t, config)
		if !withSSH {
			env = append(env, pathWithoutSSH(t))
		}
		for how, args := range map[string][]string{
			"user@":     {u1 + "@viaproxy:/tmp", newMountpoint(t)},
			"-o User=":  {"viaproxy:/tmp", newMountpoint(t), "-o", "User=" + u2},
			"User line": {"fromfile:/tmp", newMountpoint(t)},
		} {
			t.Run(fmt.Sprintf("ssh installed %v, %s", withSSH, how), func(t *testing.T) {
				if line := refused(t, 2, env, args...); !strings.Contains(line, "user name") {
					t.Errorf("%q: %s", args, line)
				}
			})
		}
		for _, m := range []string{m1, m2, m3} {
			if fileExists(m) {
				t.Errorf("ssh installed %v: a command in the user name ran (%s exists)", withSSH, m)
			}
		}
	}
}
