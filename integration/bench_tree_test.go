package integration

import (
	"fmt"
	"testing"
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
