//go:build linux

package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
