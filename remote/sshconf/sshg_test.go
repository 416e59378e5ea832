package sshconf

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The yardstick is OpenSSH: for configs using each Match criterion the
// installed ssh knows (localnetwork and tagged came with OpenSSH 9.4;
// Debian 12 has 9.2, which refuses them, and so do we, with its line), Include inside Match, and the layouts
// Fedora and Cloudflare ship, what sftpmount resolves equals what
// `ssh -G` prints for the same files.
func TestMatchResolvesAsSshGPrints(t *testing.T) {
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("OpenSSH's client is installed in CI (install-deps.sh)")
		}
		t.Skip("no ssh client: the library alone reads the files")
	}
	me, _ := user.Current()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("conf.d/50-redhat.conf", "Match final all\n    ServerAliveInterval 7\n    Include "+filepath.Join(dir, "inner.conf")+"\n")
	write("inner.conf", "ServerAliveCountMax 9\n")
	write("match-include.conf", "Port 2022\n")
	config := write("config", `
Host fedora
    HostName fedora.example
Host cf
    HostName ssh.cf.example
Match host ssh.cf.example exec "test %h = ssh.cf.example"
    ProxyCommand cloudflared access ssh --hostname %h
    IdentityFile ~/.cloudflared/%h-cf_key
    CertificateFile ~/.cloudflared/%h-cf_key-cert.pub
Match originalhost orig !host nomatch.example
    HostName 10.9.8.7
    User orig-user
Match originalhost byuser user alice
    Port 2200
Match originalhost local localuser `+me.Username+`
    Port 2201
Match originalhost failing exec "exit 1"
    Port 2203
Match originalhost inc
    Include `+filepath.Join(dir, "match-include.conf")+`
Match all
    IdentityFile ~/.ssh/fallback
Include `+filepath.Join(dir, "conf.d", "*.conf")+`
`)
	def := testDefaults
	def.User = me.Username // as ssh sees this process
	c, err := LoadSSHConfigWith(config, "/home/me", ssh)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alias string
		over  Overrides
	}{
		{"fedora", nil}, {"cf", nil}, {"orig", nil}, {"byuser", Overrides{"user": {"alice"}}}, {"byuser", nil},
		{"local", nil}, {"failing", nil}, {"inc", nil},
	} {
		e, err := c.Resolve(tc.alias, tc.over, def)
		if err != nil {
			t.Errorf("%s: %v", tc.alias, err)
			continue
		}
		args := []string{"-G", "-F", config}
		for k, vs := range tc.over {
			for _, v := range vs {
				args = append(args, "-o", k+"="+v)
			}
		}
		out, err := exec.Command(ssh, append(args, tc.alias)...).Output()
		if err != nil {
			t.Fatalf("ssh -G %s: %v", tc.alias, err)
		}
		g := map[string][]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok {
				g[k] = append(g[k], v)
			}
		}
		var ids []string
		for _, id := range e.Identities {
			ids = append(ids, id.Path)
		}
		var wantIDs []string
		for _, id := range g["identityfile"] {
			wantIDs = append(wantIDs, strings.Replace(strings.ReplaceAll(id, "%h", g["hostname"][0]), "~", "/home/me", 1))
		}
		proxy := ""
		if p := g["proxycommand"]; len(p) > 0 && p[0] != "none" {
			proxy = strings.ReplaceAll(p[0], "%h", g["hostname"][0])
		}
		checks := []struct{ what, got, want string }{
			{"HostName", e.Host, g["hostname"][0]},
			{"Port", strconv.Itoa(e.Port), g["port"][0]},
			{"User", e.User, g["user"][0]},
			{"ProxyCommand", e.ProxyCommand, proxy},
		}
		if len(e.Identities) > 0 && !strings.HasPrefix(wantIDs[0], "/home/me/.ssh/id_") {
			checks = append(checks, struct{ what, got, want string }{"IdentityFile", strings.Join(ids, " "), strings.Join(wantIDs, " ")})
		}
		if v := g["serveraliveinterval"][0]; v != "0" {
			checks = append(checks, struct{ what, got, want string }{"ServerAliveInterval", strconv.Itoa(int(e.KeepaliveInterval.Seconds())), v})
			checks = append(checks, struct{ what, got, want string }{"ServerAliveCountMax", strconv.Itoa(e.KeepaliveCountMax), g["serveralivecountmax"][0]})
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s %v: %s %q, ssh -G says %q", tc.alias, tc.over, ch.what, ch.got, ch.want)
			}
		}
	}
	// Spot checks that the corpus exercises what it claims.
	resolved := func(alias string) *Endpoint {
		e, err := c.Resolve(alias, nil, def)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if e := resolved("fedora"); e.KeepaliveInterval.Seconds() != 7 || e.KeepaliveCountMax != 9 {
		t.Errorf("Match final all (Fedora's 50-redhat.conf), with an Include inside: keepalive %v/%d", e.KeepaliveInterval, e.KeepaliveCountMax)
	}
	if e := resolved("cf"); !strings.HasPrefix(e.ProxyCommand, "cloudflared access ssh --hostname ssh.cf.example") {
		t.Errorf("Cloudflare's Match host ... exec: ProxyCommand %q", e.ProxyCommand)
	}
	if e := resolved("failing"); e.Port != 22 {
		t.Errorf("a Match exec that fails applied its block: port %d", e.Port)
	}
}

// A setting that would change how ssh connects, whom it trusts or how it
// logs in, which sftpmount does not do, is noticed in one line, not
// dropped in silence, by ssh -G and by the library alike; an inert value
// (GSSAPIAuthentication no) is not.
func TestSettingsSftpmountDoesNotDoAreNoticed(t *testing.T) {
	ssh, _ := exec.LookPath("ssh")
	p := filepath.Join(t.TempDir(), "config")
	os.WriteFile(p, []byte("Host h\n  BindAddress 127.0.0.2\n  Compression yes\n  User u\n  VerifyHostKeyDNS yes\n  CheckHostIP yes\n"+
		"  UpdateHostKeys ask\n  GSSAPIAuthentication yes\n  ControlMaster auto\n  ControlPath /tmp/cm-%C\n  PKCS11Provider /usr/lib/p11.so\n"+
		"  SecurityKeyProvider /usr/lib/sk.so\n  HostbasedAuthentication no\n"), 0644)
	want := []string{"BindAddress 127.0.0.2", "CheckHostIP", "Compression yes", "UpdateHostKeys ask", "VerifyHostKeyDNS"}
	// The login methods only ssh can take are Logins, said by the
	// login (transport's loginNotices and loginAdvice).
	wantLogins := []string{"ControlMaster auto, ControlPath /tmp/cm-", "GSSAPIAuthentication yes",
		"PKCS11Provider /usr/lib/p11.so", "SecurityKeyProvider /usr/lib/sk.so"}
	for _, ssh := range []string{"", ssh} {
		c, err := LoadSSHConfigWith(p, "/home/me", ssh)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Resolve("h", nil, testDefaults)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Notices) != len(want) {
			t.Errorf("ssh %q: notices %q", ssh, e.Notices)
			continue
		}
		for i, w := range want {
			if !strings.Contains(e.Notices[i], w) {
				t.Errorf("ssh %q: notice %d is %q, want it to name %s", ssh, i, e.Notices[i], w)
			}
		}
		if len(e.Logins) != len(wantLogins) {
			t.Errorf("ssh %q: logins %+v", ssh, e.Logins)
		} else {
			for i, w := range wantLogins {
				if l := e.Logins[i]; !strings.HasPrefix(l.Setting, w) || !l.UserSet || l.From != p || l.Means == "" {
					t.Errorf("ssh %q: login %d is %+v, want %s, set by -F's %s", ssh, i, l, w, p)
				}
			}
		}
		if e, _ := c.Resolve("other", nil, testDefaults); len(e.Notices) != 0 || len(e.Logins) != 0 {
			t.Errorf("ssh %q: another host: notices %q, logins %+v", ssh, e.Notices, e.Logins)
		}
	}
}

// What the system's file sets and the user's leave alone is not named:
// Debian's GSSAPIAuthentication yes would be said at every mount.
func TestSystemFilesDefaultsAreNotNoticed(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0700)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte("Host h\n  VerifyHostKeyDNS yes\n"), 0600)
	ssh, _ := exec.LookPath("ssh")
	for _, ssh := range []string{"", ssh} {
		c, err := LoadSSHConfigWith("", home, ssh)
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Resolve("h", nil, testDefaults)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Notices) != 1 || !strings.Contains(e.Notices[0], "VerifyHostKeyDNS") {
			t.Errorf("ssh %q: notices %q, want VerifyHostKeyDNS alone", ssh, e.Notices)
		}
		c, _ = LoadSSHConfigWith("", t.TempDir(), ssh)
		if e, err := c.Resolve("h", nil, testDefaults); err != nil || len(e.Notices) != 0 {
			t.Errorf("ssh %q: no user file: notices %q (%v)", ssh, e.Notices, err)
		}
	}
}
