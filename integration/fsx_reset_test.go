//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The fsx exerciser while the link is cut every second: every operation
// must still match the model, and the server's copy must too. It used to
// hang for good: the exerciser's mmap read deadlocked with the link (see
// copyOut).
func TestFsxWithTheLinkResetEverySecondMatchesTheModel(t *testing.T) {
	const every = time.Second
	ops := fsxOps(10000) // long enough for several resets
	// A run of 10 000 takes 10 to 30 s; the watchdog leaves room for a
	// loaded machine and for the long run.
	limit := 2*time.Minute + time.Duration(ops)*5*time.Millisecond
	needServer(t)
	link := newSlowLink(t, 0)
	m := mountWatched(t, link, limit, "-o", "timeout=10")

	resets, stop := resetEvery(t, link, every)
	defer stop()

	// Once the watchdog has ended sftpmount, an mmap read faults: fail the
	// test rather than crash the binary.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("exerciser faulted: %v", r)
		}
	}()
	c := fsxOn(m, fsxSeeds(7)[0], ops)
	c.resets = true
	runFsx(t, c)
	if n := resets.Load(); n < 2 {
		t.Errorf("the link was reset %d times during the run, want at least 2", n)
	}
	t.Logf("the link was reset %d times", resets.Load())
}

// resetEvery resets link every period until stop is called, which waits
// for the resetting to end (no reset may log after the test); resets
// counts them.
func resetEvery(t *testing.T, link *slowLink, period time.Duration) (resets *atomic.Int64, stop func()) {
	resets = new(atomic.Int64)
	done := make(chan struct{})
	resetting := make(chan struct{})
	go func() {
		defer close(resetting)
		for {
			select {
			case <-done:
				return
			case <-time.After(period):
				link.reset(t)
				resets.Add(1)
			}
		}
	}()
	return resets, func() { close(done); <-resetting }
}

// mountWatched mounts through link with sftpmount in the foreground (-f -d),
// its stderr in a file, and a watchdog: after limit, SIGQUIT makes it print
// its goroutines, and a SIGKILL a second later ends it and with it every
// wait on the mount, and the test fails with that dump instead of hanging.
//
// The watchdog is a process of its own, and sftpmount writes to a file, not
// a pipe we copy: while a goroutine here waits in a page fault on the
// mount, a garbage collection's stop-the-world halts every other goroutine
// of the test binary, a timer of ours included.
func mountWatched(t *testing.T, link *slowLink, limit time.Duration, extra ...string) *mounted {
	t.Helper()
	needServer(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	logPath := filepath.Join(t.TempDir(), "sftpmount.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()  // the child has its own copy
	conn := standardArgs() // nil link: straight to sshd
	if link != nil {
		conn = link.args()
	}
	args := append(append([]string{remoteSpec(m.remote), m.mnt, "-f", "-d"}, conn...), extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(), home(t)...)
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dog := exec.Command("sh", "-c", fmt.Sprintf("sleep %d && kill -QUIT %d && sleep 1 && kill -KILL %d", int(limit.Seconds()), cmd.Process.Pid, cmd.Process.Pid))
	dog.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // to end its sleep too
	if err := dog.Start(); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	cleanupMount(t, m.mnt)
	t.Cleanup(func() {
		syscall.Kill(-dog.Process.Pid, syscall.SIGKILL)
		dog.Wait()
		cmd.Process.Kill()
		cmd.Wait()
		log, _ := os.ReadFile(logPath)
		// The test's sshd runs commands: resets must never be taken
		// for a server that cannot (remote/feed.go).
		if i := strings.Index(string(log), "change feed: off"); i >= 0 {
			t.Errorf("the -d log turns the change feed off against a server that runs commands: %s", strings.SplitN(string(log[i:]), "\n", 2)[0])
		}
		if i := strings.Index(string(log), "SIGQUIT: goroutine dump"); i >= 0 {
			t.Errorf("still running after %v; sftpmount's last words:\n%s\nits goroutines:\n%s", limit, tail(string(log[:i]), 30), log[i:])
		} else if t.Failed() {
			t.Logf("sftpmount's last words:\n%s", tail(string(log), 60))
		}
		if t.Failed() {
			keep := filepath.Join(os.TempDir(), "sftpmount-"+strings.ReplaceAll(t.Name(), "/", "-")+".log")
			if os.WriteFile(keep, log, 0644) == nil {
				t.Logf("sftpmount's whole -d log: %s", keep)
			}
		}
	})
	if !waitFor(15*time.Second, func() bool { return isMounted(m.mnt) }) {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("foreground mount did not appear; stderr: %s", log)
	}
	return m
}
