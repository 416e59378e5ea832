//go:build linux

package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startForeground runs sftpmount -f (plus extra) and waits for the mount.
func startForeground(t *testing.T, extra ...string) (*exec.Cmd, *lockedBuffer, *mounted) {
	t.Helper()
	return startForegroundWith(t, standardArgs(), extra...)
}

// startForegroundThrough is startForeground over a toxiproxy link.
func startForegroundThrough(t *testing.T, link *slowLink, extra ...string) (*exec.Cmd, *lockedBuffer, *mounted) {
	t.Helper()
	return startForegroundWith(t, link.args(), extra...)
}

func startForegroundWith(t *testing.T, conn []string, extra ...string) (*exec.Cmd, *lockedBuffer, *mounted) {
	t.Helper()
	needServer(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	args := append([]string{remoteSpec(m.remote), m.mnt, "-f", "-d"}, conn...)
	cmd := exec.Command(binary, append(args, extra...)...)
	cmd.Env = append(baseEnv(), home(t)...)
	return cmd, serveInForeground(t, cmd, m.mnt), m
}

// serveInForeground starts a foreground sftpmount command, collects its
// stderr, and waits for its mount; the mount and the process are ended
// when the test ends.
func serveInForeground(t *testing.T, cmd *exec.Cmd, mnt string) *lockedBuffer {
	t.Helper()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cleanupMount(t, mnt)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitFor(60*time.Second, func() bool { return isMounted(mnt) }) {
		t.Fatalf("foreground mount did not appear; stderr: %s", stderr.String())
	}
	return stderr
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exitsWithin waits for cmd and fails unless it ends, successfully, in time.
func exitsWithin(t *testing.T, cmd *exec.Cmd, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sftpmount exited with %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("sftpmount still running %v later", limit)
	}
}

func TestForegroundMountStaysUntilSIGTERMThenUnmounts(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, _, m := startForeground(t)
			writeFile(t, filepath.Join(m.mnt, "f"), "x", 0644)
			if got := readFile(t, filepath.Join(m.remote, "f")); got != "x" {
				t.Fatalf("server has %q", got)
			}
			cmd.Process.Signal(sig)
			exitsWithin(t, cmd, 10*time.Second)
			if isMounted(m.mnt) {
				t.Fatal("still mounted after the process exited")
			}
		})
	}
}

func TestFusermountUEndsTheBackgroundProcess(t *testing.T) {
	m := mount(t)
	pids := processesServing(m.mnt)
	if len(pids) != 1 {
		t.Fatalf("want one background process serving the mount, found %v", pids)
	}
	if out, err := exec.Command("fusermount3", "-u", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u: %v %s", err, out)
	}
	if !waitFor(10*time.Second, func() bool { return len(processesServing(m.mnt)) == 0 }) {
		t.Fatalf("process %v still running after unmount", pids)
	}
	if isMounted(m.mnt) {
		t.Fatal("still mounted")
	}
}

func TestSIGTERMOfABusyMountStillEndsTheProcess(t *testing.T) {
	cmd, _, m := startForeground(t)
	// A process with its working directory inside keeps the mount busy.
	holder := exec.Command("sleep", "30")
	holder.Dir = m.mnt
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	cmd.Process.Signal(syscall.SIGTERM)
	exitsWithin(t, cmd, 10*time.Second)
	if isMounted(m.mnt) {
		t.Fatal("busy mount not detached after SIGTERM")
	}
}

func TestDebugFlagLogsOperationsButNoSecrets(t *testing.T) {
	cmd, stderr, m := startForeground(t, "-d")
	sh(t, m.mnt, "ls -la >/dev/null; cat missing 2>/dev/null || true; echo hi > f")
	cmd.Process.Signal(syscall.SIGTERM)
	exitsWithin(t, cmd, 10*time.Second)
	log := stderr.String()
	for _, want := range []string{`readdir "/"`, `lookup "/missing": no such file or directory`, `create "/f": ok`, "connected to 127.0.0.1"} {
		if !strings.Contains(log, want) {
			t.Errorf("debug log lacks %q", want)
		}
	}
	key := readFile(t, server.userKey)
	for _, line := range strings.Split(key, "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") && strings.Contains(log, line) {
			t.Fatalf("private key material in the debug log")
		}
	}
	if strings.Contains(log, "PRIVATE KEY") {
		t.Fatal("private key in the debug log")
	}
}

func TestRelativeMountpointAndKeyPathsWorkInTheBackground(t *testing.T) {
	needServer(t)
	served := newServedDir(t, "root")
	mnt := newMountpoint(t)
	cwd := filepath.Dir(mnt)
	keyRel, _ := filepath.Rel(cwd, server.userKey)
	cmd := exec.Command(binary, remoteSpec(served), filepath.Base(mnt), "-p", strconv.Itoa(server.port),
		"-o", "IdentityFile="+keyRel+",UserKnownHostsFile="+server.knownHosts)
	cmd.Dir = cwd
	cmd.Env = append(baseEnv(), home(t)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	cleanupMount(t, mnt)
	if !isMounted(mnt) {
		t.Fatal("not mounted")
	}
}

func TestStalledServerGivesAnErrorWithinTheDeadlineThenRecovers(t *testing.T) {
	m := mount(t, "-o", "timeout=3,ServerAliveInterval=0")
	writeFile(t, filepath.Join(m.remote, "before"), "ok", 0644)
	if got := readFile(t, filepath.Join(m.mnt, "before")); got != "ok" {
		t.Fatal(got)
	}
	server.signal(syscall.SIGSTOP)
	t.Cleanup(func() { server.signal(syscall.SIGCONT) })

	start := time.Now()
	_, err := os.Stat(filepath.Join(m.mnt, "never-looked-up"))
	took := time.Since(start)
	var errno syscall.Errno
	if !errors.As(err, &errno) || (errno != syscall.ETIMEDOUT && errno != syscall.EIO) {
		t.Errorf("stat on a stalled server: %v, want ETIMEDOUT or EIO", err)
	}
	if took > 10*time.Second {
		t.Errorf("stat took %v with a 3s deadline", took)
	}

	server.signal(syscall.SIGCONT)
	// The next call dials a new connection; no remount needed.
	if got := readFile(t, filepath.Join(m.mnt, "before")); got != "ok" {
		t.Fatalf("after the server came back: %q", got)
	}
	writeFile(t, filepath.Join(m.mnt, "after"), "written", 0644)
	if got := readFile(t, filepath.Join(m.remote, "after")); got != "written" {
		t.Fatalf("server has %q", got)
	}
}
