package transport

import (
	"errors"
	"strings"
	"testing"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

var (
	systemGSSAPI = sshconf.LoginSetting{Keyword: "GSSAPIAuthentication", Value: "yes", Means: "ssh would log in by Kerberos (GSSAPI)"}
	userControl  = sshconf.LoginSetting{Keyword: "ControlPath", Value: "/tmp/cm", Means: "ssh would log in through a master connection already open", UserSet: true}
)

// A login that fails names, in its one line, every login method in force
// that only ssh can take, the system file's too, and how to have ssh do
// it; one with none in force says nothing of them.
func TestAFailedLoginNamesWhatOnlySSHCouldHaveDone(t *testing.T) {
	refused := errors.New("ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey], no supported methods remain")
	nobody := errors.New("ssh: handshake failed: a password is needed and nobody can answer")
	for _, err := range []error{refused, nobody} {
		got := classifyHandshakeError("h:22", "u", []sshconf.LoginSetting{systemGSSAPI, userControl}, err)
		var se *StartupError
		if !errors.As(got, &se) || se.Kind != StartupAuth {
			t.Fatalf("%v: %#v", err, got)
		}
		line := got.Error()
		for _, want := range []string{"GSSAPIAuthentication yes (/etc/ssh/ssh_config)", "Kerberos", "ControlPath /tmp/cm:", "-o ssh_command=ssh"} {
			if !strings.Contains(line, want) {
				t.Errorf("%q does not say %q", line, want)
			}
		}
		if strings.Contains(line, "/tmp/cm (") || strings.Contains(line, "\n") {
			t.Errorf("%q: the user's setting called the system's, or more than one line", line)
		}
		if line := classifyHandshakeError("h:22", "u", nil, err).Error(); strings.Contains(line, "ssh_command") {
			t.Errorf("nothing in force, yet: %q", line)
		}
	}
	// A failure that is not the login's says nothing of them.
	if line := classifyHandshakeError("h:22", "u", []sshconf.LoginSetting{systemGSSAPI}, errors.New("ssh: handshake failed: EOF")).Error(); strings.Contains(line, "GSSAPI") {
		t.Errorf("a broken handshake: %q", line)
	}
}

// A login done another way names what the user set, once each, and
// never the system's default (Debian's GSSAPIAuthentication yes would
// be said at every mount).
func TestALoginDoneAnotherWayNamesOnlyWhatTheUserSet(t *testing.T) {
	got := loginNotices(&sshconf.Endpoint{Alias: "h", Logins: []sshconf.LoginSetting{systemGSSAPI, userControl}})
	if len(got) != 1 || !strings.Contains(got[0], "ControlPath /tmp/cm") || !strings.Contains(got[0], "-o ssh_command=ssh") {
		t.Errorf("notices %q", got)
	}
	if got := loginNotices(&sshconf.Endpoint{Alias: "h", Logins: []sshconf.LoginSetting{systemGSSAPI}}); len(got) != 0 {
		t.Errorf("the system's default alone: %q", got)
	}
}
