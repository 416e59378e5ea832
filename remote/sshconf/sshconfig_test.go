package sshconf

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func configFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte(text), 0600); err != nil {
		t.Fatal(err)
	}
	return p
}

var testDefaults = Defaults{User: "me", Home: "/home/me", ConnectTimeout: 15 * time.Second,
	KeepaliveInterval: 15 * time.Second, KeepaliveCountMax: 3, StrictHostKeyChecking: HostKeyYes}

// resolve resolves alias with ssh -G when ssh is installed (as in CI),
// and checks that the library, the fallback, agrees on what both read.
func resolve(t *testing.T, config, alias string, over Overrides) *Endpoint {
	t.Helper()
	file := configFile(t, config)
	c, err := LoadSSHConfig(file, "/home/me")
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Resolve(alias, over, testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	if c.ssh != "" {
		lib, err := LoadSSHConfigWith(file, "/home/me", "")
		if err != nil {
			t.Fatal(err)
		}
		l, err := lib.Resolve(alias, over, testDefaults)
		if err != nil {
			t.Fatalf("the library: %v", err)
		}
		if got, want := summary(l), summary(e); got != want {
			t.Errorf("the library resolves %s as\n%s\nssh -G as\n%s", alias, got, want)
		}
	}
	return e
}

// summary is what the comparisons look at.
func summary(e *Endpoint) string {
	s := fmt.Sprintf("%s@%s:%d proxy=%q ids=%v certs=%v only=%v agent=%q known=%v strict=%s alias=%q timeout=%v alive=%v/%d batch=%v",
		e.User, e.Host, e.Port, e.ProxyCommand, e.Identities, e.CertificateFiles, e.IdentitiesOnly, e.AgentSocket,
		e.KnownHostsFiles, e.StrictHostKeyChecking, e.HostKeyAlias, e.ConnectTimeout, e.KeepaliveInterval, e.KeepaliveCountMax, e.BatchMode)
	for _, j := range e.Jumps {
		s += " via " + summary(j)
	}
	return s
}

func TestHostAliasGivesHostNamePortUserAndKeys(t *testing.T) {
	e := resolve(t, `
Host files
    HostName 10.0.0.7
    Port 2222
    User alice
    IdentityFile ~/.ssh/work_%r_%h
    IdentityFile %d/.ssh/second
    IdentitiesOnly yes
    ServerAliveInterval 5
    ConnectTimeout 4
Host *
    User fallback
    ServerAliveCountMax 7
`, "files", Overrides{})
	if e.Host != "10.0.0.7" || e.Port != 2222 || e.User != "alice" {
		t.Fatalf("got %s@%s:%d", e.User, e.Host, e.Port)
	}
	want := []Identity{{Path: "/home/me/.ssh/work_alice_10.0.0.7"}, {Path: "/home/me/.ssh/second"}}
	if !reflect.DeepEqual(e.Identities, want) {
		t.Errorf("identities %v, want %v", e.Identities, want)
	}
	if !e.IdentitiesOnly || e.KeepaliveInterval != 5*time.Second || e.KeepaliveCountMax != 7 || e.ConnectTimeout != 4*time.Second {
		t.Errorf("endpoint %+v", e)
	}
}

func TestCommandLineWinsOverTheFile(t *testing.T) {
	over := Overrides{}
	over.Set("Port", "2200")
	over.Set("User", "bob")
	over.Set("IdentityFile", "/keys/cmdline")
	over.Set("StrictHostKeyChecking", "accept-new")
	e := resolve(t, "Host h\n Port 1\n User alice\n IdentityFile /keys/file\n StrictHostKeyChecking yes\n", "h", over)
	if e.Port != 2200 || e.User != "bob" || e.StrictHostKeyChecking != HostKeyAcceptNew {
		t.Fatalf("got %+v", e)
	}
	want := []Identity{{Path: "/keys/cmdline", Required: true}, {Path: "/keys/file"}}
	if !reflect.DeepEqual(e.Identities, want) {
		t.Errorf("identities %v, want %v", e.Identities, want)
	}
}

func TestDefaultsApplyWhenNothingIsSet(t *testing.T) {
	e := resolve(t, "", "plain.example", Overrides{})
	if e.Host != "plain.example" || e.Port != 22 || e.User != "me" || e.StrictHostKeyChecking != HostKeyYes {
		t.Fatalf("got %+v", e)
	}
	if len(e.Identities) != 3 || e.Identities[0].Path != "/home/me/.ssh/id_ed25519" || e.Identities[0].Required {
		t.Errorf("default identities %v", e.Identities)
	}
	if e.KnownHostsFiles[0] != "/home/me/.ssh/known_hosts" {
		t.Errorf("known hosts %v", e.KnownHostsFiles)
	}
}

func TestProxyJumpHostsAreResolvedLikeHostsOfTheirOwn(t *testing.T) {
	e := resolve(t, `
Host target
    HostName 10.1.1.1
    ProxyJump gw1,carol@gw2:2022
Host gw1
    HostName gateway.example
    User jumper
    Port 7022
Host gw2
    IdentityFile /keys/gw2
`, "target", Overrides{})
	if len(e.Jumps) != 2 {
		t.Fatalf("jumps %v", e.Jumps)
	}
	j1, j2 := e.Jumps[0], e.Jumps[1]
	if j1.Host != "gateway.example" || j1.Port != 7022 || j1.User != "jumper" {
		t.Errorf("first hop %s@%s:%d", j1.User, j1.Host, j1.Port)
	}
	if j2.Host != "gw2" || j2.Port != 2022 || j2.User != "carol" || j2.Identities[0].Path != "/keys/gw2" {
		t.Errorf("second hop %+v", j2)
	}
}

func TestIncludedFilesAreRead(t *testing.T) {
	inc := configFile(t, "Host inc\n  HostName included.example\n")
	e := resolve(t, "Include "+inc+"\n", "inc", Overrides{})
	if e.Host != "included.example" {
		t.Fatalf("host %s", e.Host)
	}
}

func TestBadValuesInTheFileAreErrorsNamingThem(t *testing.T) {
	c, err := LoadSSHConfig(configFile(t, "Host h\n Port eighty\n"), "/home/me")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve("h", Overrides{}, testDefaults)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "port") || !strings.Contains(err.Error(), "eighty") {
		t.Fatalf("got %v", err)
	}
	if _, err := LoadSSHConfig("/nonexistent/config", "/home/me"); err == nil {
		t.Fatal("a missing -F file is no error")
	}
}

func TestProxyCommandTokensAndTheFirstOfProxyJumpAndProxyCommandWins(t *testing.T) {
	config := `
Host ssm
    HostName i-0abc
    User ec2-user
    Port 2200
    ProxyCommand sh -c "aws ssm start-session --target %h --parameters portNumber=%p"
Host first-jump
    ProxyJump bastion
Host first-command
    ProxyCommand nc %h %p
Host first-*
    ProxyCommand nc -X 5 %h %p
    ProxyJump other
Host off
    ProxyCommand none
Host ssm off
    ProxyJump fallback
`
	e := resolve(t, config, "ssm", nil)
	if want := `sh -c "aws ssm start-session --target i-0abc --parameters portNumber=2200"`; e.ProxyCommand != want || len(e.Jumps) != 0 {
		t.Errorf("ssm: ProxyCommand %q, jumps %d; want %q and none (the ProxyJump comes later)", e.ProxyCommand, len(e.Jumps), want)
	}
	if e := resolve(t, "Host t\n  HostName h.example\n  User u\n  ProxyCommand p %r@%h:%p %n %%\n", "t", nil); e.ProxyCommand != "p u@h.example:22 t %" {
		t.Errorf("tokens: %q", e.ProxyCommand)
	}
	if e := resolve(t, config, "first-jump", nil); e.ProxyCommand != "" || len(e.Jumps) != 1 || e.Jumps[0].Alias != "bastion" {
		t.Errorf("ProxyJump first: command %q, jumps %d", e.ProxyCommand, len(e.Jumps))
	}
	if e := resolve(t, config, "first-command", nil); e.ProxyCommand != "nc first-command 22" || len(e.Jumps) != 0 {
		t.Errorf("ProxyCommand first: command %q, jumps %d", e.ProxyCommand, len(e.Jumps))
	}
	if e := resolve(t, config, "off", nil); e.ProxyCommand != "" || len(e.Jumps) != 0 {
		t.Errorf("ProxyCommand none, then a ProxyJump: command %q, jumps %d; want neither", e.ProxyCommand, len(e.Jumps))
	}
	over := Overrides{}
	over.Set("ProxyCommand", "socat - TCP:%h:%p")
	if e := resolve(t, config, "first-jump", over); e.ProxyCommand != "socat - TCP:first-jump:22" || len(e.Jumps) != 0 {
		t.Errorf("-o ProxyCommand over a file's ProxyJump: command %q, jumps %d", e.ProxyCommand, len(e.Jumps))
	}
	over.Set("ProxyJump", "b")
	c, _ := LoadSSHConfig(configFile(t, config), "/home/me")
	if _, err := c.Resolve("x", over, testDefaults); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("-o ProxyJump and -o ProxyCommand together: %v", err)
	}
}
