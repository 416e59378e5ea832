package sshconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Each login method only ssh can take is named with where it is set:
// -o, the user's file (~ for the home) or the system's file, and only
// the first two count as the user's. A value with which ssh logs in as
// sftpmount does (GSSAPIAuthentication no, over the system's yes) is no
// login method at all. ControlMaster and ControlPath are one setting,
// its socket's tokens expanded.
func TestLoginSettingsSayWhereTheyAreSet(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0700)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte("Host h\n  PKCS11Provider /usr/lib/p11.so\n  ControlPath /tmp/cm-%h-%p\n"+
		"Host off\n  GSSAPIAuthentication no\n"), 0600)
	ssh, _ := exec.LookPath("ssh")
	for _, ssh := range []string{"", ssh} {
		c, err := LoadSSHConfigWith("", home, ssh)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Resolve("h", Overrides{"securitykeyprovider": {"/usr/lib/sk.so"}}, testDefaults)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]LoginSetting{}
		for _, l := range e.Logins {
			got[strings.Fields(l.Setting)[0]] = l
		}
		if l := got["PKCS11Provider"]; l.From != "~/.ssh/config" || !l.UserSet {
			t.Errorf("ssh %q: PKCS11Provider %+v", ssh, l)
		}
		if l := got["SecurityKeyProvider"]; l.From != "-o" || !l.UserSet || l.Setting != "SecurityKeyProvider /usr/lib/sk.so" {
			t.Errorf("ssh %q: SecurityKeyProvider %+v", ssh, l)
		}
		if l := got["ControlPath"]; l.From != "~/.ssh/config" || !l.UserSet || l.ControlPath != "/tmp/cm-h-22" {
			t.Errorf("ssh %q: ControlPath %+v", ssh, l)
		}
		if l, ok := got["GSSAPIAuthentication"]; ok != systemSaysGSSAPI(t) || ok && (l.From != systemConfig || l.UserSet) {
			t.Errorf("ssh %q: GSSAPIAuthentication %+v (in force %v)", ssh, l, ok)
		}
		want := 3
		if systemSaysGSSAPI(t) {
			want++
		}
		if len(e.Logins) != want || len(got) != want {
			t.Errorf("ssh %q: logins %+v, want %d", ssh, e.Logins, want)
		}
		e, err = c.Resolve("off", nil, testDefaults)
		if err != nil || len(e.Logins) != 0 {
			t.Errorf("ssh %q: GSSAPIAuthentication no over the system's: logins %+v (%v)", ssh, e.Logins, err)
		}
	}
}

// systemSaysGSSAPI reports whether /etc/ssh/ssh_config sets
// GSSAPIAuthentication yes for every host, as Debian's does.
func systemSaysGSSAPI(t *testing.T) bool {
	data, err := os.ReadFile(systemConfig)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.EqualFold(f[0], "GSSAPIAuthentication") && f[1] == "yes" {
			return true
		}
	}
	return false
}
