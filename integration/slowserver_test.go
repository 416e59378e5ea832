//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// addLatency delays one direction of the link ("downstream": the
// server's answers) by ms.
func (l *slowLink) addLatency(tb testing.TB, stream string, ms int) {
	tb.Helper()
	toxic := fmt.Sprintf(`{"name":"slow_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`, stream, stream, ms)
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		tb.Fatal(err)
	}
}

// A server that takes 2 s to answer anything is slow, not dead: the mount
// must connect, serve every call, and keep its connection through
// keepalives, with nothing timing out.
func TestASlowServerIsServedWithNothingTimingOut(t *testing.T) {
	link := newSlowLink(t, 0)
	link.addLatency(t, "downstream", 2000)
	start := time.Now()
	// Keepalives every 3 s, one miss allowed: each must be answered in
	// time although every answer takes 2 s.
	_, log, m := startForegroundWith(t, link.args(), "-o", "ServerAliveInterval=3,ServerAliveCountMax=1")
	t.Logf("mounted in %v", time.Since(start).Round(time.Millisecond))
	randomFile(t, filepath.Join(m.remote, "in.bin"), 1<<20)
	source := filepath.Join(t.TempDir(), "out.bin")
	randomFile(t, source, 1<<20)
	limit := 30 * time.Second // the default per-call timeout
	steps := []struct{ name, script string }{
		{"ls -la", "ls -la"},
		{"stat", "stat in.bin"},
		{"cat 1 MiB", "cat in.bin > " + filepath.Join(t.TempDir(), "copy")},
		{"cp 1 MiB in", "cp " + source + " out.bin"},
		{"mkdir", "mkdir d"},
		{"mv", "mv out.bin d/moved.bin"},
		{"rm", "rm in.bin"},
	}
	for _, s := range steps {
		began := time.Now()
		if out, err := shErrWithin(m.mnt, s.script, limit); err != nil {
			t.Fatalf("%s failed after %v: %v: %s", s.name, time.Since(began), err, out)
		}
		t.Logf("%s: %v", s.name, time.Since(began).Round(time.Millisecond))
	}
	if got := sha(t, filepath.Join(m.remote, "d", "moved.bin")); got != sha(t, source) {
		t.Fatal("the copied file differs on the server")
	}
	if _, err := os.Stat(filepath.Join(m.remote, "in.bin")); err == nil {
		t.Fatal("rm did not reach the server")
	}
	// Idle through several keepalives, then use the mount again.
	time.Sleep(8 * time.Second)
	if out, err := shErrWithin(m.mnt, "ls d", limit); err != nil || !strings.Contains(out, "moved.bin") {
		t.Fatalf("after idling: %v: %s", err, out)
	}
	for _, bad := range []string{"timed out", "declared dead", "reconnecting"} {
		if strings.Contains(log.String(), bad) {
			t.Errorf("the log says %q on a slow but working link", bad)
		}
	}
}
