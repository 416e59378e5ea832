package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// -o ssh_command runs what sshfs would: the command's words, ssh's
// options sshfs always gives, the -o ssh keywords, [user@]host and the
// subsystem (or sftp_server's path without -s).
func TestSSHCommandRunsWhatSshfsWouldRun(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"alice@files:/srv", "/m", "-o", "ssh_command=ssh -o ControlPath=/tmp/c\\ m"},
			"ssh|-o|ControlPath=/tmp/c m|-x|-a|-oClearAllForwardings=yes|-2|-s|--|alice@files|sftp"},
		{[]string{"files:", "/m", "-p", "2222", "-o", "ssh_command=/bin/ssh,IdentityFile=/k,ssh_protocol=2"},
			"/bin/ssh|-x|-a|-oClearAllForwardings=yes|-oIdentityFile=/k|-oPort=2222|-2|-s|--|files|sftp"},
		{[]string{"files:", "/m", "-o", "ssh_command=ssh,sftp_server=/usr/lib/openssh/sftp-server"},
			"ssh|-x|-a|-oClearAllForwardings=yes|-2|--|files|/usr/lib/openssh/sftp-server"},
		{[]string{"files:", "/m", "-o", "ssh_command=  ssh   -v\\x -oA=b\\ c ,sftp_server=other"},
			"ssh|-v\\x|-oA=b c|-x|-a|-oClearAllForwardings=yes|-2|-s|--|files|other"},
		{[]string{"files:", "/m", "-o", "ssh_command=ssh,sftp_server=other"},
			"ssh|-x|-a|-oClearAllForwardings=yes|-2|-s|--|files|other"},
	} {
		o, err := parseArgs(c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if got := strings.Join(o.sshCommandArgv(), "|"); got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.args, got, c.want)
		}
		// A command on the server (the change feed) runs in place of
		// the SFTP server, never asking.
		want := c.want[:strings.LastIndex(c.want, "|--|")]
		want = strings.TrimSuffix(want, "|-s") + "|-oBatchMode=yes|--|" + strings.Split(c.want, "|")[len(strings.Split(c.want, "|"))-2] + "|exec /bin/sh -c 'x'"
		if got := strings.Join(o.sshExecArgv("exec /bin/sh -c 'x'"), "|"); got != want {
			t.Errorf("%q: remote command:\n got %s\nwant %s", c.args, got, want)
		}
	}
}

// sshfs takes :DIR and host:DIR alike with -o passive (the host only
// names the mount), and runs in the foreground.
func TestPassiveRunsInTheForegroundWithOrWithoutAHost(t *testing.T) {
	for _, c := range []struct{ opt, remote, host string }{
		{"passive", ":/srv", ""}, {"slave", ":/srv", ""}, {"passive", "box:/srv", "box"}, {"slave", "u@box:/srv", "box"},
	} {
		o, err := parseArgs([]string{c.remote, "/m", "-o", c.opt})
		if err != nil {
			t.Fatalf("%s %s: %v", c.opt, c.remote, err)
		}
		if !o.Passive || !o.Foreground || o.Reconnect || o.Dir != "/srv" || o.Host != c.host {
			t.Errorf("%s %s: %+v", c.opt, c.remote, o)
		}
	}
	if _, err := parseArgs([]string{":/srv", "/m"}); err == nil {
		t.Error("no host without passive: accepted")
	}
}

func TestDirectPortEndpointTakesTheConnectionOptions(t *testing.T) {
	o, err := parseArgs([]string{"box:/d", "/m", "-o", "directport=2345,ServerAliveInterval=4,ServerAliveCountMax=2,ConnectTimeout=7"})
	if err != nil {
		t.Fatal(err)
	}
	ep := o.streamEndpoint()
	got := []any{ep.Host, ep.Port, ep.KeepaliveInterval, ep.KeepaliveCountMax, ep.ConnectTimeout}
	want := []any{"box", 2345, 4 * time.Second, 2, 7 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !strings.Contains(o.streamName(), "box:2345") {
		t.Errorf("streamName %q", o.streamName())
	}
}
