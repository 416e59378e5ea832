package fs

import "testing"

func TestMayEscapeRefusesAbsoluteAndClimbingTargets(t *testing.T) {
	for target, want := range map[string]bool{
		"a": false, "a/b": false, "./a": false, "a..b": false, "..a/b": false,
		"/etc/passwd": true, "..": true, "../x": true, "a/../b": true, "a/..": true, "/": true,
	} {
		if got := mayEscape(target); got != want {
			t.Errorf("mayEscape(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestUnderRoot(t *testing.T) {
	cases := []struct {
		root, target, rel string
		ok                bool
	}{
		{"/srv", "/srv/a/b", "a/b", true},
		{"/srv", "/srv", "", true},
		{"/srv", "/srvx/a", "", false},
		{"/srv", "/etc", "", false},
		{"/srv", "/srv/a/../../etc", "", false},
		{"/", "/etc/x", "etc/x", true},
	}
	for _, c := range cases {
		rel, ok := underRoot(c.root, c.target)
		if rel != c.rel || ok != c.ok {
			t.Errorf("underRoot(%q, %q) = %q,%v; want %q,%v", c.root, c.target, rel, ok, c.rel, c.ok)
		}
	}
}
