//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The 2 000-file tree of the ls -lR benchmarks (small: 100 files).
func treeScript() string {
	dirs, files := 20, 100
	if small() {
		dirs, files = 5, 20
	}
	return fmt.Sprintf("for d in $(seq 1 %d); do mkdir d$d; (cd d$d && for f in $(seq 1 %d); do echo $d-$f > f$f; done); done", dirs, files)
}

func BenchmarkWarmLsLR(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, treeScript())
		mnt := benchMount(b, m, link, served)
		run(b, mnt, "ls -lR > /dev/null") // fills the caches
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			run(b, mnt, "ls -lR > /dev/null")
		}
	})
}

func BenchmarkColdFind(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, treeScript())
		b.ResetTimer() // making the tree is not part of the figure
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			b.StartTimer()
			run(b, mnt, "find . | wc -l > /dev/null")
		}
	})
}

// gitTree makes a committed work tree of the ls -lR tree's size.
func gitTree(b *testing.B, served string) {
	run(b, served, "mkdir w && cd w && "+treeScript()+" && git init -q && git add -A && git -c user.name=b -c user.email=b@example.org commit -qm tree")
}

func BenchmarkGitStatusCold(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		gitTree(b, served)
		b.ResetTimer() // making the work tree is not part of the figure
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			b.StartTimer()
			run(b, mnt+"/w", "git -c safe.directory='*' status --porcelain > /dev/null")
		}
	})
}

func BenchmarkGitStatusWarm(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		gitTree(b, served)
		// Warm means within the cache timeout: the first run alone takes
		// longer than the default 20 s on a slow link, so both mounts
		// keep what they learn for ten minutes.
		mnt := benchMount(b, m, link, served, "cache_timeout=600")
		run(b, mnt+"/w", "git -c safe.directory='*' status --porcelain > /dev/null")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			run(b, mnt+"/w", "git -c safe.directory='*' status --porcelain > /dev/null")
		}
	})
}

// BenchmarkGitStatusAfterRemount is `git status` of a work tree that was
// made and committed through the same kind of mount (over a 0 ms link, so
// setting up stays short), on a fresh mount through the benchmark's link:
// git's index holds the mount's own inode numbers, which sftpmount gives
// again (a path's number is the same on every mount), so nothing is read.
func BenchmarkGitStatusAfterRemount(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		first := benchMount(b, m, newSlowLink(b, 0), served)
		gitTree(b, first)
		// Files written in the index's own second are "racily clean":
		// git reads them once more, then writes the index again.
		time.Sleep(1100 * time.Millisecond)
		run(b, first+"/w", "git -c safe.directory='*' status --porcelain > /dev/null")
		run(b, served, "fusermount3 -u "+first)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			b.StartTimer()
			run(b, mnt+"/w", "git -c safe.directory='*' status --porcelain > /dev/null")
		}
	})
}

// BenchmarkFileMadeOnTheServerThenCat: a directory is listed through the
// mount, then a file is made in it directly on the server, as another
// client or the server's own job would; the figure is the time until
// `cat` through the mount gives its bytes (polled every 10 ms).
func BenchmarkFileMadeOnTheServerThenCat(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		mnt := benchMount(b, m, link, served)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			name := fmt.Sprintf("made%d", i)
			run(b, mnt, "ls -l > /dev/null && cat "+name+" 2>/dev/null || true")
			want := "made on the server " + name
			if err := os.WriteFile(filepath.Join(served, name), []byte(want), 0644); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for {
				got, _ := os.ReadFile(filepath.Join(mnt, name))
				if string(got) == want {
					break
				}
				if time.Since(start) > time.Minute {
					b.Fatalf("%s: not seen after a minute", name)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-until-seen")
		}
	})
}
