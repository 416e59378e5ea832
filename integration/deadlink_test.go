//go:build linux

package integration

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// mountThrough mounts a fresh served directory through link.
func mountThrough(t *testing.T, link *slowLink, extra ...string) *mounted {
	t.Helper()
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	args := append(append([]string{remoteSpec(m.remote), m.mnt}, link.args()...), extra...)
	if r := runBinary(t, home(t), args...); r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	return m
}

// failsWithin runs op and checks it fails, with an I/O-ish errno, in time.
func failsWithin(t *testing.T, what string, limit time.Duration, op func() error) {
	t.Helper()
	start := time.Now()
	err := op()
	took := time.Since(start)
	var errno syscall.Errno
	if err == nil {
		t.Errorf("%s succeeded on a dead link", what)
	} else if !errors.As(err, &errno) || (errno != syscall.ETIMEDOUT && errno != syscall.EIO) {
		t.Errorf("%s: %v, want ETIMEDOUT or EIO", what, err)
	}
	if took > limit {
		t.Errorf("%s took %v on a dead link, limit %v", what, took.Round(time.Millisecond), limit)
	}
	t.Logf("%s failed after %v: %v", what, took.Round(time.Millisecond), err)
}

func TestBlackholedLinkFailsCallsWithinTheDeadlineThenRecovers(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 0)
	m := mountThrough(t, link, "-o", "timeout=3,ServerAliveInterval=0")
	writeFile(t, filepath.Join(m.remote, "before"), "ok", 0644)
	sh(t, m.remote, "mkdir sub sub2")
	src := filepath.Join(t.TempDir(), "src")
	randomFile(t, src, 4<<20)
	// Nothing is listed or cached yet, so each call below needs the server.

	link.blackhole(t)
	limit := 8 * time.Second // a 3 s deadline plus a re-dial bounded by it
	failsWithin(t, "stat", limit, func() error { _, err := os.Stat(filepath.Join(m.mnt, "sub/x")); return err })
	failsWithin(t, "ls", limit, func() error { _, err := os.ReadDir(filepath.Join(m.mnt, "sub2")); return err })
	failsWithin(t, "cat", limit, func() error { _, err := os.ReadFile(filepath.Join(m.mnt, "before")); return err })
	failsWithin(t, "cp into the mount", 2*limit, func() error {
		out, err := exec.Command("cp", src, filepath.Join(m.mnt, "copied")).CombinedOutput()
		if err != nil {
			t.Logf("cp said: %s", out)
			return syscall.EIO // cp reports the errno in text; it did fail
		}
		return nil
	})

	link.restore(t)
	// The next call dials again; no remount.
	if got := readFile(t, filepath.Join(m.mnt, "before")); got != "ok" {
		t.Fatalf("after the link came back: %q", got)
	}
	sh(t, m.mnt, "cp "+src+" copied-after")
	if sha(t, filepath.Join(m.remote, "copied-after")) != sha(t, src) {
		t.Fatal("copy after recovery differs on the server")
	}
}

func TestKeepaliveNoticesADeadLinkWhileIdle(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 0)
	cmd, stderr, m := startForegroundThrough(t, link, "-o", "ServerAliveInterval=1,ServerAliveCountMax=2,timeout=30")
	link.blackhole(t)
	start := time.Now()
	if !waitFor(10*time.Second, func() bool { return strings.Contains(stderr.String(), "link declared dead") }) {
		t.Fatalf("no keepalive verdict within 10 s on an idle dead link; log:\n%s", stderr.String())
	}
	t.Logf("idle dead link declared dead after %v (interval 1 s, 2 misses)", time.Since(start).Round(time.Millisecond))
	link.restore(t)
	// The next call reconnects.
	writeFile(t, filepath.Join(m.remote, "f"), "back", 0644)
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "back" {
		t.Fatalf("after the link returned: %q", got)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	exitsWithin(t, cmd, 10*time.Second)
}

func TestSIGTERMEndsAMountWhoseLinkIsDead(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 0)
	cmd, _, m := startForegroundThrough(t, link, "-o", "timeout=3")
	link.blackhole(t)
	go os.Stat(filepath.Join(m.mnt, "pending")) // a request stuck on the dead link
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	exitsWithin(t, cmd, 10*time.Second)
	if isMounted(m.mnt) {
		t.Fatal("still mounted")
	}
}

// freezingLink forwards connections to sshd and can freeze the ones it
// carries: nothing more passes either way and nothing is closed, as on a
// link a router silently drops, while new connections go through, as over
// another route. (toxiproxy's toxics apply to new connections too, and its
// blackhole drops bytes, which ends a connection once it carries more.)
type freezingLink struct {
	port       int
	knownHosts string
	mu         sync.Mutex
	conns      []*atomic.Bool // each connection's frozen flag
	open       []net.Conn     // both ends of each, closed at the test's end
}

func newFreezingLink(t *testing.T) *freezingLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &freezingLink{port: ln.Addr().(*net.TCPAddr).Port}
	t.Cleanup(func() {
		ln.Close()
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range l.open {
			c.Close()
		}
	})
	l.knownHosts = filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", l.port, server.hostKeyPub)
	if err := os.WriteFile(l.knownHosts, []byte(line), 0644); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(server.port))
			if err != nil {
				c.Close()
				continue
			}
			frozen := new(atomic.Bool)
			l.mu.Lock()
			l.conns = append(l.conns, frozen)
			l.open = append(l.open, c, up)
			l.mu.Unlock()
			go forwardUnlessFrozen(up, c, frozen)
			go forwardUnlessFrozen(c, up, frozen)
		}
	}()
	return l
}

// forwardUnlessFrozen copies from src to dst until frozen, then reads on
// and drops what it reads, answering nothing.
func forwardUnlessFrozen(dst, src net.Conn, frozen *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze silences every connection the link carries now.
func (l *freezingLink) freeze() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.conns {
		f.Store(true)
	}
}

func (l *freezingLink) args() []string {
	return []string{"-p", strconv.Itoa(l.port), "-o", "IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + l.knownHosts}
}

// A link that goes silent under a create (a router that drops everything,
// nothing refused) is given up before the create's deadline, and the
// create goes on over a new connection: tar or cp sees it succeed, within
// -o timeout. It used to wait out the whole deadline on the silent link
// and fail, with no time left to reconnect (the untar soak's EIO).
func TestACreateOnALinkGoneSilentSucceedsOverANewConnection(t *testing.T) {
	needServer(t)
	link := newFreezingLink(t)
	const timeout = 10 * time.Second
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	args := append(append([]string{remoteSpec(m.remote), m.mnt}, link.args()...), "-o", "timeout=10")
	if r := runBinary(t, home(t), args...); r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	sh(t, m.remote, "mkdir d")
	if _, err := os.ReadDir(filepath.Join(m.mnt, "d")); err != nil {
		t.Fatal(err)
	}

	// The mount's connections go silent; new ones go through.
	link.freeze()
	start := time.Now()
	f, err := os.OpenFile(filepath.Join(m.mnt, "d", "new"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0644)
	if err == nil {
		_, err = f.WriteString("made")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	took := time.Since(start)
	if err != nil {
		t.Fatalf("create on a link gone silent: %v after %v", err, took.Round(time.Millisecond))
	}
	t.Logf("created, written and closed in %v over a link gone silent", took.Round(time.Millisecond))
	if took > 2*timeout { // the create and the close, each within -o timeout
		t.Errorf("took %v: longer than the create's and the close's deadlines", took.Round(time.Millisecond))
	}
	if got := readFile(t, filepath.Join(m.remote, "d", "new")); got != "made" {
		t.Fatalf("the server has %q", got)
	}
}
