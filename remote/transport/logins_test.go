package transport

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

var (
	systemGSSAPI = sshconf.LoginSetting{Setting: "GSSAPIAuthentication yes", Means: "ssh would log in by Kerberos (GSSAPI)", From: "/etc/ssh/ssh_config"}
	userPKCS11   = sshconf.LoginSetting{Setting: "PKCS11Provider /usr/lib/p11.so", Means: "ssh would offer the keys of a PKCS#11 token", From: "~/.ssh/config", UserSet: true}
)

// A login that fails names, in its one line, every login method in force
// that only ssh can take, the system file's too, each with where it is
// set, and how to have ssh do it; one with none in force says nothing of
// them, and neither does a failure that is not the login's.
func TestAFailedLoginNamesWhatOnlySSHCouldHaveDone(t *testing.T) {
	refused := errors.New("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain")
	nobody := errors.New("ssh: handshake failed: a password is needed and nobody can answer")
	for _, err := range []error{refused, nobody} {
		got := classifyHandshakeError("h:22", "u", []sshconf.LoginSetting{systemGSSAPI, userPKCS11}, err)
		var se *StartupError
		if !errors.As(got, &se) || se.Kind != StartupAuth {
			t.Fatalf("%v: %#v", err, got)
		}
		line := got.Error()
		want := "; ssh config sets GSSAPIAuthentication yes (/etc/ssh/ssh_config) and PKCS11Provider /usr/lib/p11.so (~/.ssh/config): " +
			"sftpmount's SSH cannot log in that way; -o ssh_command=ssh logs in with OpenSSH's own client"
		if !strings.HasSuffix(line, want) || !strings.HasPrefix(line, "authentication as u on h:22 failed") || strings.Contains(line, "\n") {
			t.Errorf("%q, want it to end %q", line, want)
		}
		if line := classifyHandshakeError("h:22", "u", nil, err).Error(); strings.Contains(line, "ssh_command") {
			t.Errorf("nothing in force, yet: %q", line)
		}
	}
	if line := classifyHandshakeError("h:22", "u", []sshconf.LoginSetting{systemGSSAPI}, errors.New("ssh: handshake failed: EOF")).Error(); strings.Contains(line, "GSSAPI") {
		t.Errorf("a broken handshake: %q", line)
	}
}

// A login done another way names what the user set, once each, and
// never the system's default (Debian's GSSAPIAuthentication yes would
// be said at every mount); a ControlPath where a master listens is
// named as one -o ssh_command=ssh would log in through.
func TestALoginDoneAnotherWayNamesOnlyWhatTheUserSet(t *testing.T) {
	got := loginNotices(&sshconf.Endpoint{Alias: "h", Logins: []sshconf.LoginSetting{systemGSSAPI, userPKCS11}})
	if len(got) != 1 || !strings.Contains(got[0], "PKCS11Provider /usr/lib/p11.so for h (~/.ssh/config)") ||
		!strings.Contains(got[0], "logged in another way") || !strings.Contains(got[0], "-o ssh_command=ssh") {
		t.Errorf("notices %q", got)
	}
	if got := loginNotices(&sshconf.Endpoint{Alias: "h", Logins: []sshconf.LoginSetting{systemGSSAPI}}); len(got) != 0 {
		t.Errorf("the system's default alone: %q", got)
	}
	sock := filepath.Join(t.TempDir(), "cm")
	control := sshconf.LoginSetting{Setting: "ControlMaster auto, ControlPath " + sock, Means: "ssh would share", From: "-o", UserSet: true, ControlPath: sock}
	got = loginNotices(&sshconf.Endpoint{Alias: "h", Logins: []sshconf.LoginSetting{control}})
	if len(got) != 1 || strings.Contains(got[0], "master connection is open") || !strings.Contains(got[0], "-o ssh_command=ssh") {
		t.Errorf("no master: %q", got)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for c, err := l.Accept(); err == nil; c, err = l.Accept() {
			c.Close()
		}
	}()
	got = loginNotices(&sshconf.Endpoint{Alias: "h", Logins: []sshconf.LoginSetting{control}})
	if len(got) != 1 || !strings.Contains(got[0], "a master connection is open at "+sock+" (-o ssh_command=ssh would log in through it)") {
		t.Errorf("a master listening: %q", got)
	}
}
