//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// resetWhenGrown runs the shell command in dir and cuts the link once the
// file at watch has reached 16 MiB: mid-transfer, whatever the speed.
func resetWhenGrown(t *testing.T, link *slowLink, watch, dir, script string) (string, error) {
	t.Helper()
	return cutWhenGrown(t, func() { link.reset(t) }, watch, 16<<20, dir, script)
}

// cutWhenGrown runs script and calls cut once watch has size bytes.
func cutWhenGrown(t *testing.T, cut func(), watch string, size int64, dir, script string) (string, error) {
	t.Helper()
	done := make(chan struct{})
	didCut := make(chan bool, 1)
	go func() {
		for {
			select {
			case <-done:
				didCut <- false
				return
			case <-time.After(5 * time.Millisecond):
			}
			if fi, err := os.Stat(watch); err == nil && fi.Size() >= size {
				cut()
				didCut <- true
				return
			}
		}
	}()
	out, err := shErr(dir, script)
	close(done)
	if !<-didCut {
		t.Errorf("%q finished before the link was cut; the test proves nothing", script)
	}
	return out, err
}

func TestConnectionResetMidCopyIsResumedWithReconnect(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 10)
	_, log, m := startForegroundThrough(t, link, "-o", "timeout=10")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sftpmount -d log:\n%s", tail(log.String(), 60))
		}
	})
	local := t.TempDir()
	src := filepath.Join(local, "src")
	randomFile(t, src, 64<<20)

	if out, err := resetWhenGrown(t, link, filepath.Join(m.remote, "up"), m.mnt, "cp "+src+" up"); err != nil {
		t.Fatalf("cp into the mount across a reset: %v %s", err, out)
	}
	if sha(t, filepath.Join(m.remote, "up")) != sha(t, src) {
		t.Fatal("server copy differs after a reset mid-write")
	}
	if out, err := resetWhenGrown(t, link, filepath.Join(local, "down"), m.mnt, "cp up "+filepath.Join(local, "down")); err != nil {
		t.Fatalf("cp out of the mount across a reset: %v %s", err, out)
	}
	if sha(t, filepath.Join(local, "down")) != sha(t, src) {
		t.Fatal("copy read across a reset differs")
	}
}

func TestConnectionResetWithReconnectOffFailsLoudly(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 10)
	m := mountThrough(t, link, "-o", "reconnect=no,timeout=10")
	src := filepath.Join(t.TempDir(), "src")
	randomFile(t, src, 64<<20)
	out, err := resetWhenGrown(t, link, filepath.Join(m.remote, "up"), m.mnt, "cp "+src+" up")
	if err == nil {
		t.Fatalf("cp reported success across a reset with reconnect=no; server has %s", sha(t, filepath.Join(m.remote, "up")))
	}
	t.Logf("cp said: %s", strings.TrimSpace(out))
	out2, err := exec.Command("ls", m.mnt).CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "not connected") {
		t.Fatalf("after giving up, ls: %v %q, want ENOTCONN", err, out2)
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestSshdRestartedMidCopyAndMidUntarLosesNothing(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 10)
	m := mountThrough(t, link, "-o", "timeout=10")
	local := t.TempDir()
	src := filepath.Join(local, "src")
	randomFile(t, src, 64<<20)
	restart := func() {
		if err := server.restart(); err != nil {
			t.Errorf("restarting sshd: %v", err)
		}
	}
	if out, err := cutWhenGrown(t, restart, filepath.Join(m.remote, "big"), 16<<20, m.mnt, "cp "+src+" big"); err != nil {
		t.Fatalf("cp across an sshd restart: %v %s", err, out)
	}
	if sha(t, filepath.Join(m.remote, "big")) != sha(t, src) {
		t.Fatal("server copy differs after an sshd restart mid-write")
	}

	// Small files: every file is complete and correct, or tar said so.
	sh(t, local, "mkdir t && for i in $(seq 1 100); do head -c 2048 /dev/urandom > t/f$i; done && tar -cf small.tar t")
	out, err := cutWhenGrown(t, restart, filepath.Join(m.remote, "x/t/f30"), 2048, m.mnt, "mkdir x && tar -xf "+filepath.Join(local, "small.tar")+" -C x")
	for i := 1; i <= 100; i++ {
		name := "t/f" + strconv.Itoa(i)
		got := filepath.Join(m.remote, "x", name)
		if _, serr := os.Stat(got); serr != nil {
			if err == nil {
				t.Errorf("%s missing on the server and tar reported nothing", name)
			}
			continue
		}
		if sha(t, got) != sha(t, filepath.Join(local, name)) && (err == nil || !strings.Contains(out, name)) {
			t.Errorf("%s differs on the server and tar reported nothing about it", name)
		}
	}
	t.Logf("tar across an sshd restart: err=%v %s", err, strings.TrimSpace(out))
}
