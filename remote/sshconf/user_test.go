package sshconf

import (
	"errors"
	"os/exec"
	"testing"
)

func TestValidUserRefusesWhatOpenSSHRefuses(t *testing.T) {
	for u, want := range map[string]bool{
		"root": true, "alice.b": true, "DOMAIN\\bob": true, "user@realm": true, "host$": true, "a b": true,
		"-oProxyCommand=x": false, "x$(touch p)": false, "x`id`": false, "a;b": false, "a|b": false,
		"a&b": false, "a<b": false, "a'b": false, "a\"b": false, "a{b}": false, "a\nb": false,
		"a\x1b[31m": false, "a\x7f": false, "a -o": false, "trail\\": false,
	} {
		if got := ValidUser(u); got != want {
			t.Errorf("ValidUser(%q) = %v, want %v", u, got, want)
		}
	}
}

// A bad name is refused wherever it comes from, before ssh -G (and so a
// Match exec) or a ProxyCommand's %r sees it.
func TestResolveRefusesAnInvalidUserFromTheFilesTheCommandLineAndAJump(t *testing.T) {
	config := "Host bad\n    User x$(id)\nHost viajump\n    ProxyJump y;id@jump\nHost *\n    ProxyCommand /bin/true %r\n"
	ssh, _ := exec.LookPath("ssh")
	for _, ssh := range []string{"", ssh} {
		for alias, over := range map[string]Overrides{
			"bad":     {},
			"good":    {"user": {"-oops"}},
			"viajump": {},
		} {
			c, err := LoadSSHConfigWith(configFile(t, config), "/home/me", ssh)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Resolve(alias, over, testDefaults)
			var ue *UserError
			if !errors.As(err, &ue) {
				t.Errorf("ssh=%q %s %v: %v, want a *UserError", ssh, alias, over, err)
			}
		}
	}
}
