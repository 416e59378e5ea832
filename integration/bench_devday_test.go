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

// A developer's day on a remote work tree (issue 17): a repository of
// source-like files made by the benchmark itself (no network), cloned
// into the mount (over file://, as from a server: one pack), then git status, grep -r, git status past the cache
// timeout, and git status and grep -r on a fresh mount. Each step is
// reported in seconds (clone-s, status-s...); the cache timeout is 5 s
// (1 s in the reduced size) on every mount so that "past the timeout"
// costs the run little.

// sourceRepo makes a git repository of files (Go-like sources, 200 B to
// 40 KiB, a few larger) in dirs directories outside the mount.
func sourceRepo(b *testing.B, files, dirs int) string {
	b.Helper()
	repo, err := os.MkdirTemp(workDir, "repo-")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < files; i++ {
		dir := filepath.Join(repo, fmt.Sprintf("pkg%02d", i%dirs))
		if err := os.MkdirAll(dir, 0755); err != nil {
			b.Fatal(err)
		}
		size := 200 + (i*7919)%(40<<10)
		if i%50 == 0 {
			size = 200 << 10
		}
		line := fmt.Sprintf("func f%d() int { return %d } // source line\n", i, i)
		body := strings.Repeat(line, size/len(line)+1)[:size]
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%03d.go", i)), []byte(body), 0644); err != nil {
			b.Fatal(err)
		}
	}
	run(b, repo, "git init -q && git add -A && git -c user.name=b -c user.email=b@example.org commit -qm tree")
	return repo
}

func BenchmarkDevDay(b *testing.B) {
	files, dirs, timeout := 279, 12, 5*time.Second
	if small() {
		files, dirs, timeout = 40, 4, time.Second
	}
	cacheTimeout := fmt.Sprintf("cache_timeout=%d", int(timeout.Seconds()))
	rtts := benchRTTs()
	if small() && len(rtts) > 1 {
		rtts = rtts[:1] // CI's reduced run: the first RTT only (at 50 ms it took 140 s)
	}
	ms := append(withRclone(), writebackMounter)
	if !small() {
		ms = append(ms, noFeedMounter) // the same without the change feed: what it is worth
	}
	eachSetupOf(b, rtts, ms, func(b *testing.B, m mounter, link *slowLink, served string) {
		repo := sourceRepo(b, files, dirs)
		const git = "git -c safe.directory='*' "
		steps := []struct{ name, dir, script string }{
			{"clone-s", "", "git clone -q file://" + repo + " w"},
			{"status-s", "w", git + "status --porcelain > /dev/null"},
			{"grep-s", "w", "grep -r 'source line' . | wc -l > /dev/null"},
		}
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			os.RemoveAll(filepath.Join(served, "w"))
			mnt := benchMount(b, m, link, served, cacheTimeout)
			b.StartTimer()
			for _, s := range steps {
				start := time.Now()
				run(b, filepath.Join(mnt, s.dir), s.script)
				b.ReportMetric(time.Since(start).Seconds(), s.name)
			}
			b.StopTimer()
			time.Sleep(timeout + time.Second) // past the cache timeout
			b.StartTimer()
			start := time.Now()
			run(b, filepath.Join(mnt, "w"), git+"status --porcelain > /dev/null")
			b.ReportMetric(time.Since(start).Seconds(), "status-after-timeout-s")
			// What the server holds: rclone uploads after close; the
			// others before close returns. Not in the op's time.
			b.StopTimer()
			start = time.Now()
			if !waitFor(5*time.Minute, func() bool {
				out, err := shErrWithin(filepath.Join(served, "w"), git+"--no-optional-locks status --porcelain", time.Minute) // the index left as the mount wrote it
				return err == nil && out == ""
			}) {
				b.Fatal("the server's copy of the clone is not a clean work tree after 5 minutes")
			}
			b.ReportMetric(time.Since(start).Seconds(), "until-on-server-s")
			fresh := benchMount(b, m, link, served, cacheTimeout)
			b.StartTimer()
			start = time.Now()
			run(b, filepath.Join(fresh, "w"), git+"status --porcelain > /dev/null")
			b.ReportMetric(time.Since(start).Seconds(), "status-after-remount-s")
			start = time.Now()
			run(b, filepath.Join(fresh, "w"), "grep -r 'source line' . | wc -l > /dev/null")
			b.ReportMetric(time.Since(start).Seconds(), "cold-grep-s")
		}
	})
}

// BenchmarkServerTreeStatus: git status through a fresh mount of a work
// tree cloned and checked out on the server itself (issue 32): git's
// index holds the server's inode numbers, change times and sub-second
// mtimes, so a mount that shows them (the bulk listing of the change
// feed) lets git read no file, and one that cannot (SFTP v3 has none of
// them) makes git read every file again. Full run only: at 50 ms the
// mounts that read every file take minutes.
func BenchmarkServerTreeStatus(b *testing.B) {
	if small() {
		b.Skip("full run only (SFTPMOUNT_BENCH_SMALL is set)")
	}
	ms := append(withRclone(), noFeedMounter)
	eachSetupOf(b, benchRTTs(), ms, func(b *testing.B, m mounter, link *slowLink, served string) {
		const git = "git -c safe.directory='*' "
		repo := sourceRepo(b, 2000, 20)
		run(b, served, "git clone -q file://"+repo+" w") // on the server, not through the mount
		// git's index is as old as the files it lists, to the second: git
		// reads again each file "racily clean" (changed in the index's
		// second) through any mount. A second later none is.
		time.Sleep(1100 * time.Millisecond)
		run(b, filepath.Join(served, "w"), git+"status --porcelain > /dev/null")
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			b.StartTimer()
			for _, step := range []string{"status-s", "again-s"} {
				start := time.Now()
				run(b, filepath.Join(mnt, "w"), git+"status --porcelain > /dev/null")
				b.ReportMetric(time.Since(start).Seconds(), step)
			}
		}
	})
}
