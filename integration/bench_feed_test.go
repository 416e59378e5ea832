//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The change feed's figures (issue 32), sftpmount with the feed and with
// -o remote_commands=no beside sshfs and rclone in the same run (the
// feed's tests are feed_test.go). Alone:
//
//	SFTPMOUNT_BENCH_RTTS=0,10,50 go test ./integration -run '^$' -bench '^BenchmarkFeed' -benchtime 1x -timeout 30m

// feedMounters: sftpmount (the feed), sftpmount -o remote_commands=no,
// sshfs, and rclone where installed (not in the reduced size).
func feedMounters() []mounter {
	return append([]mounter{mounters[0], noFeedMounter}, withRclone()[1:]...)
}

// feedSettled waits, for an sftpmount whose status has a "change feed:"
// line, until that line leaves its start ("up", "off" or "down"), so the
// figures are of a mount in use.
func feedSettled(b *testing.B, m mounter, mnt string) {
	b.Helper()
	if !strings.HasPrefix(m.name, "sftpmount") {
		return
	}
	var line string
	waitFor(20*time.Second, func() bool {
		out, _ := exec.Command(binary, "status", mnt).Output()
		line = feedLineIn(string(out))
		return line == "" || strings.HasPrefix(line, "change feed: up") || strings.HasPrefix(line, "change feed: off") || strings.HasPrefix(line, "change feed: down")
	})
	if line != "" {
		b.Logf("%s: %q", m.name, line)
	}
}

// BenchmarkFeedTwoMountAppend: mounts A and B of one directory; A appends
// a line and closes, B at once reads the file's last line (`tail -n 1`).
// The figure is B's stale reads per 100.
func BenchmarkFeedTwoMountAppend(b *testing.B) {
	n := 100
	if small() {
		n = 20
	}
	eachSetupOf(b, benchRTTs(), feedMounters(), func(b *testing.B, m mounter, link *slowLink, served string) {
		if err := os.WriteFile(filepath.Join(served, "f"), []byte("line 0\n"), 0644); err != nil {
			b.Fatal(err)
		}
		mntA := benchMount(b, m, link, served)
		mntB := benchMount(b, m, link, served)
		os.ReadFile(filepath.Join(mntA, "f"))
		os.ReadFile(filepath.Join(mntB, "f"))
		feedSettled(b, m, mntB)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			stale := 0
			for j := 1; j <= n; j++ {
				line := fmt.Sprintf("line %d.%d\n", i, j)
				f, err := os.OpenFile(filepath.Join(mntA, "f"), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.WriteString(line); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				if lastLine(filepath.Join(mntB, "f")) != line {
					stale++
				}
			}
			b.ReportMetric(float64(stale)*100/float64(n), "stale/100")
		}
	})
}

// BenchmarkFeedServerFileSeen: the mount lists its root and is told a
// name is absent; the name is then made directly on the server. The
// figure is the median, over N names, of the time until `stat` through
// the mount finds it (polled every 2 ms, up to 5 s: a name not found by
// then counts as 5 s, and in "unseen"; after three unseen the rest are
// not asked).
func BenchmarkFeedServerFileSeen(b *testing.B) {
	n := 20
	if small() {
		n = 3
	}
	const limit = 5 * time.Second
	eachSetupOf(b, benchRTTs(), feedMounters(), func(b *testing.B, m mounter, link *slowLink, served string) {
		mnt := benchMount(b, m, link, served)
		os.ReadDir(mnt)
		feedSettled(b, m, mnt)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var waits []time.Duration
			unseen := 0
			for j := 0; j < n && unseen < 3; j++ { // a mount that never sees them is not asked 20 times
				name := fmt.Sprintf("made%d.%d", i, j)
				os.ReadDir(mnt)
				os.Stat(filepath.Join(mnt, name))
				if err := os.WriteFile(filepath.Join(served, name), []byte(name), 0644); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for {
					if _, err := os.Stat(filepath.Join(mnt, name)); err == nil {
						waits = append(waits, time.Since(start))
						break
					}
					if time.Since(start) > limit {
						waits = append(waits, limit)
						unseen++
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			sort.Slice(waits, func(x, y int) bool { return waits[x] < waits[y] })
			b.ReportMetric(float64(waits[len(waits)/2].Microseconds())/1000, "median-ms-until-seen")
			b.ReportMetric(float64(waits[len(waits)-1].Microseconds())/1000, "max-ms-until-seen")
			b.ReportMetric(float64(unseen), "unseen")
		}
	})
}

// feedLineIn is the "change feed:" line of a `sftpmount status` output, or "".
func feedLineIn(status string) string { return statusLineIn(status, "change feed:") }

// statusLineIn is the line of a status text that starts with prefix.
func statusLineIn(status, prefix string) string {
	for _, l := range strings.Split(status, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// lastLine is what `tail -n 1` prints of path (an error's text if it
// cannot be read).
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	return lines[len(lines)-1] + "\n"
}
