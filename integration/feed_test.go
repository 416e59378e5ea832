//go:build linux

package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// The change feed against OpenSSH, driven through remote.Client (the
// mount's own use of it is tested with the mount): the watcher it runs
// on the server ends when the client closes and when the link is cut,
// and ForceCommand internal-sftp turns it off.

// feedEvents records what a feed tells.
type feedEvents struct {
	mu     sync.Mutex
	events []string
}

func (e *feedEvents) add(s string) {
	e.mu.Lock()
	e.events = append(e.events, s)
	e.mu.Unlock()
}
func (e *feedEvents) Watching(dir string) { e.add(fmt.Sprintf("watching %q", dir)) }
func (e *feedEvents) Lost(why string)     { e.add("lost " + why) }
func (e *feedEvents) Changed(c remote.Change) {
	e.add(fmt.Sprintf("%s %q %q", c.Kind, c.Dir, c.Name))
}

// waitFor waits for an event with prefix want told after event from;
// the bound is against a hang only.
func (e *feedEvents) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		e.mu.Lock()
		for i := from; i < len(e.events); i++ {
			if strings.HasPrefix(e.events[i], want) {
				e.mu.Unlock()
				return i
			}
		}
		got := append([]string(nil), e.events...)
		e.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %q after event %d; told: %q", want, from, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// feedConnect connects a client as root to port (sshd's or a link's),
// with the key of sshd s.
func feedConnect(t *testing.T, s *sshServer, port int, knownHosts, served string) *remote.Client {
	t.Helper()
	ep := &sshconf.Endpoint{
		Alias: "127.0.0.1", Host: "127.0.0.1", Port: port, User: "root",
		Identities: []sshconf.Identity{{Path: s.userKey, Required: true}}, IdentitiesOnly: true,
		KnownHostsFiles: []string{knownHosts}, StrictHostKeyChecking: sshconf.HostKeyYes,
		BatchMode: true, PubkeyAuthentication: true,
		ConnectTimeout: 10 * time.Second, KeepaliveInterval: 2 * time.Second, KeepaliveCountMax: 3,
		Algorithms: sshconf.DefaultAlgorithms(),
	}
	c, err := remote.Connect(context.Background(), remote.Config{
		Target: ep, Dir: served, Timeout: 10 * time.Second, Reconnect: true, RemoteCommands: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// watchersUnder lists the inotifywait processes below sshd process pid.
func watchersUnder(pid int) []int {
	var out []int
	for _, p := range descendants(pid) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		if strings.TrimSpace(string(comm)) == "inotifywait" {
			out = append(out, p)
		}
	}
	return out
}

// waitGone waits until none of pids runs (a zombie is gone enough). The
// pids are taken while they run below sshd: a watcher left behind would
// be reparented away from sshd, so looking below sshd afterwards would
// not find it.
func waitGone(t *testing.T, pids []int, after string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
			if err == nil && !strings.Contains(string(stat), ") Z ") {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("inotifywait %v still running on the server %s", left, after)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func feedUp(t *testing.T, c *remote.Client, ev *feedEvents, served string) {
	t.Helper()
	c.StartFeed(ev)
	c.Watch("")
	at := ev.waitFor(t, 0, `watching ""`)
	writeFile(t, filepath.Join(served, "made on the server"), "x", 0o644)
	ev.waitFor(t, at, `name "" "made on the server"`)
	if s := c.FeedStatus(); !strings.HasPrefix(s, "up: inotifywait, 1 directories watched") {
		t.Errorf("status %q", s)
	}
}

func TestFeedWatcherEndsWithTheClient(t *testing.T) {
	needServer(t)
	served := newServedDir(t, "root")
	c := feedConnect(t, server, server.port, server.knownHosts, served)
	ev := &feedEvents{}
	feedUp(t, c, ev, served)
	w := watchersUnder(server.cmd.Process.Pid)
	if len(w) == 0 {
		t.Fatal("no inotifywait on the server while the feed is up")
	}
	c.Close()
	waitGone(t, w, "after the client closed")
}

// A link cut (every connection through it reset): sshd closes the
// session's pipes and the watcher ends; the client, once reconnected,
// watches again.
func TestFeedWatcherEndsWithACutLinkAndComesBack(t *testing.T) {
	needServer(t)
	served := newServedDir(t, "root")
	link := newSlowLink(t, 0)
	c := feedConnect(t, server, link.port, link.knownHosts, served)
	ev := &feedEvents{}
	feedUp(t, c, ev, served)
	w := watchersUnder(server.cmd.Process.Pid)
	if len(w) == 0 {
		t.Fatal("no inotifywait on the server while the feed is up")
	}
	link.reset(t)
	waitGone(t, w, "after the link was cut")
	lost := ev.waitFor(t, 0, "lost connection lost")
	// The mount's next call reconnects; the feed follows.
	if _, err := c.Lstat(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	at := ev.waitFor(t, lost, `watching ""`)
	writeFile(t, filepath.Join(served, "after"), "x", 0o644)
	ev.waitFor(t, at, `name "" "after"`)
	w = watchersUnder(server.cmd.Process.Pid)
	c.Close()
	waitGone(t, w, "after the client closed")
}

// ForceCommand internal-sftp: the exec request gets an SFTP server,
// which the feed sees for what it is; SFTP itself works.
func TestFeedOffUnderForceCommandInternalSFTP(t *testing.T) {
	needServer(t)
	s, err := startSSHDWith(filepath.Join(t.TempDir(), "sshd"), func(*sshServer) (string, error) {
		return "ForceCommand internal-sftp\n", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	served := newServedDir(t, "root")
	c := feedConnect(t, s, s.port, s.knownHosts, served)
	c.StartFeed(&feedEvents{})
	c.Watch("")
	want := "off: the server runs no commands (exec refused: ForceCommand internal-sftp?)"
	deadline := time.Now().Add(30 * time.Second)
	for c.FeedStatus() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %q, want %q", c.FeedStatus(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := c.Lstat(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
}

// Over a command transport (-o ssh_command): the feed's command runs in
// an ssh of its own, as cmd/sftpmount's Config.Exec runs it (sshfs's
// argv with the command in place of -s sftp), and ends with the client.
func TestFeedOverACommandTransport(t *testing.T) {
	needServer(t)
	served := newServedDir(t, "root")
	base := []string{"ssh", "-F", "/dev/null", "-x", "-a", "-oClearAllForwardings=yes", "-oIdentitiesOnly=yes",
		"-oIdentityFile=" + server.userKey, "-oUserKnownHostsFile=" + server.knownHosts,
		"-oPort=" + fmt.Sprint(server.port), "-oBatchMode=yes"}
	quiet := func() bool { return false }
	say := func(string) {} // ssh's stderr may come after the test ends
	sftp := remote.CommandStream(append(append([]string{}, base...), "-s", "--", "root@127.0.0.1", "sftp"), quiet, say)
	run := func(ctx context.Context, command string) (io.ReadWriteCloser, error) {
		return remote.CommandStream(append(append([]string{}, base...), "--", "root@127.0.0.1", command), quiet, say)(ctx)
	}
	c, err := remote.ConnectStream(context.Background(), remote.Config{
		Dir: served, Timeout: 10 * time.Second, Reconnect: true, RemoteCommands: true, Exec: run,
	}, sftp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev := &feedEvents{}
	feedUp(t, c, ev, served)
	w := watchersUnder(server.cmd.Process.Pid)
	if len(w) == 0 {
		t.Fatal("no inotifywait on the server while the feed is up")
	}
	c.Close()
	waitGone(t, w, "after the client closed")
}
