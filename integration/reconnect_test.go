package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// resetWhenGrown runs the shell command in dir and cuts the link once the
// file at watch has reached 16 MiB: mid-transfer, whatever the speed.
func resetWhenGrown(t *testing.T, link *slowLink, watch, dir, script string) (string, error) {
	t.Helper()
	done := make(chan struct{})
	cut := make(chan bool, 1)
	go func() {
		for {
			select {
			case <-done:
				cut <- false
				return
			case <-time.After(5 * time.Millisecond):
			}
			if fi, err := os.Stat(watch); err == nil && fi.Size() >= 16<<20 {
				link.reset(t)
				cut <- true
				return
			}
		}
	}()
	out, err := shErr(dir, script)
	close(done)
	if !<-cut {
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
