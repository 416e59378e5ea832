//go:build linux

package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Two mounts of one directory (a laptop and a build box): A changes, B
// reads. B learns of A's change only from its own feed, one way down
// its own connection, and then drops its caches and the kernel's; A's
// close and rename return once the server has the change, not once B
// knows. So a read by B "at once" after A returns races B's event: the
// server's inotify, B's watcher, half a round trip, and B acting on it.
// The count of such reads that were stale is logged, a figure, not
// asserted. What is asserted is the feed's bound: B sees every change
// within feedSeenWithin, well inside open_timeout (1 s), which without
// the feed is how long B trusts what it cached (the same sequences with
// remote_commands=no show the old bytes for up to that long). The
// helpers are feedmount_test.go's.

// feedSeenWithin: a change another mount made is seen within one round
// trip and B's handling of the event; the bound leaves room for a
// loaded CI machine.
const feedSeenWithin = 500 * time.Millisecond

// twoMounts is two mounts, A and B, of one fresh served directory,
// through link, with the file f made and read by both, and both feeds
// up.
func twoMounts(t *testing.T, link *slowLink, extra ...string) (a, b *mounted) {
	t.Helper()
	b = oneMount(t, link, extra...)
	a, _ = mountServed(t, b.remote, link.args(), extra...)
	readFile(t, filepath.Join(a.mnt, "f"))
	mountFeedUp(t, a.mnt, 20*time.Second)
	return a, b
}

// raceCount is what a two-mount sequence measured: reads by B at once
// that were stale, and how long B took to see each change.
type raceCount struct {
	n, stale int
	waits    latencies
}

// check runs one round: right reports whether B's read shows A's change.
func (r *raceCount) check(t *testing.T, what string, right func() bool) {
	t.Helper()
	r.n++
	start := time.Now()
	if right() {
		r.waits = append(r.waits, 0)
		return
	}
	r.stale++
	for !right() {
		if time.Since(start) > feedSeenWithin {
			t.Errorf("%s: not seen by the second mount within %v", what, feedSeenWithin)
			return
		}
		time.Sleep(time.Millisecond)
	}
	r.waits = append(r.waits, time.Since(start))
}

func (r *raceCount) report(t *testing.T, what string) {
	t.Logf("%s: %d of %d reads by the second mount at once were stale; seen after %v", what, r.stale, r.n, r.waits)
}

// 1. A appends a line and closes; B reads the file's last line.
func TestFeedAnAppendByAnotherMountIsSeenWithinARoundTrip(t *testing.T) {
	eachFeedRTT(t, 100, 15, func(t *testing.T, link *slowLink, n int) {
		a, b := twoMounts(t, link)
		var r raceCount
		for i := 1; i <= n; i++ {
			line := fmt.Sprintf("line %04d\n", i)
			appendLine(t, filepath.Join(a.mnt, "f"), line)
			r.check(t, "an append", func() bool { return lastLine(filepath.Join(b.mnt, "f")) == line })
		}
		r.report(t, "an append")
	})
}

// 2. A writes a file aside and renames it over f; B reads f. Same size
// each time, and within one mtime second, so neither the size nor the
// mtime tells the versions apart: only the feed does.
func TestFeedAFileReplacedByRenameInAnotherMountIsSeenWithinARoundTrip(t *testing.T) {
	eachFeedRTT(t, 50, 10, func(t *testing.T, link *slowLink, n int) {
		a, b := twoMounts(t, link)
		var r raceCount
		for i := 1; i <= n; i++ {
			content := fmt.Sprintf("version %04d\n", i)
			writeFile(t, filepath.Join(a.mnt, "f.tmp"), content, 0644)
			if err := os.Rename(filepath.Join(a.mnt, "f.tmp"), filepath.Join(a.mnt, "f")); err != nil {
				t.Fatal(err)
			}
			r.check(t, "a replacement", func() bool {
				got, _ := os.ReadFile(filepath.Join(b.mnt, "f"))
				return string(got) == content
			})
		}
		r.report(t, "a replacement by rename")
	})
}

// 3. A name B was told is absent, made by A, is found by B's stat,
// listed by its ls and read by its open.
func TestFeedANewFileMadeByAnotherMountIsFoundWithinARoundTrip(t *testing.T) {
	eachFeedRTT(t, 20, 6, func(t *testing.T, link *slowLink, n int) {
		a, b := twoMounts(t, link)
		var r raceCount
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("bymount%03d", i)
			if _, err := os.Stat(filepath.Join(b.mnt, name)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s before it was made: %v", name, err)
			}
			writeFile(t, filepath.Join(a.mnt, name), name, 0644)
			r.check(t, "a new name", func() bool {
				_, err := os.Stat(filepath.Join(b.mnt, name))
				return err == nil && foundIn(b, name, name)
			})
		}
		r.report(t, "a new name")
	})
}
