//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Directory benchmarks of issue 16: listings through the wire layer
// (several READDIRs in flight, the close not waited for), a directory too
// large for the attribute cache, and tar into a directory the mount has
// not listed.

// hugeDirNames is the large directory's size: 100 000 names, 5 000 in the
// reduced size, or SFTPMOUNT_HUGEDIR_NAMES (a million for the find row).
func hugeDirNames() int {
	if n, err := strconv.Atoi(os.Getenv("SFTPMOUNT_HUGEDIR_NAMES")); err == nil && n > 0 {
		return n
	}
	if small() {
		return 5000
	}
	return 100000
}

// makeNames makes n empty files in dir on the server side.
func makeNames(b *testing.B, dir string, n int) {
	run(b, dir, fmt.Sprintf("seq -f 'name%%06g' 1 %d | xargs touch", n))
}

// BenchmarkFreshLsL is `ls -l` of a 50-name directory on a fresh mount:
// the listing's round trips, with every name's attributes from it.
func BenchmarkFreshLsL(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, "mkdir d")
		makeNames(b, filepath.Join(served, "d"), 50)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			run(b, mnt, "stat d > /dev/null") // the directory itself looked up: the figure is the listing
			b.StartTimer()
			run(b, mnt, "ls -l d > /dev/null")
		}
	})
}

// BenchmarkHugeDirLs and BenchmarkHugeDirLsL list a directory of
// hugeDirNames names on a fresh mount.
func BenchmarkHugeDirLs(b *testing.B)  { benchHugeDir(b, "ls -f d | wc -l > /dev/null") }
func BenchmarkHugeDirLsL(b *testing.B) { benchHugeDir(b, "ls -l d | wc -l > /dev/null") }

// BenchmarkHugeDirFind is find(1) of the large directory on a fresh mount.
func BenchmarkHugeDirFind(b *testing.B) { benchHugeDir(b, "find d | wc -l > /dev/null") }

func benchHugeDir(b *testing.B, script string) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, "mkdir d")
		makeNames(b, filepath.Join(served, "d"), hugeDirNames())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			run(b, mnt, "stat d > /dev/null")
			b.StartTimer()
			run(b, mnt, script)
		}
	})
}

// BenchmarkUntarIntoAnUnlistedDir is tar -x of 500 files of 2 KiB whose
// entries have no top directory (./f1...) into a directory made on the
// server and never listed through the mount.
func BenchmarkUntarIntoAnUnlistedDir(b *testing.B) {
	n := 500
	if small() {
		n = 20
	}
	src := filepath.Join(workDir, "bench-tar-flat")
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, "/", fmt.Sprintf("rm -rf %s && mkdir -p %s/t && cd %s/t && for i in $(seq 1 %d); do head -c 2048 /dev/urandom > f$i; done && tar -cf ../flat.tar .", src, src, src, n))
		mnt := benchMount(b, m, link, served)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			dir := "x" + strconv.Itoa(i)
			run(b, served, "mkdir "+dir)
			b.StartTimer()
			start := time.Now()
			run(b, mnt, "tar -xf "+src+"/flat.tar -C "+dir)
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(n), "ms/file")
		}
	})
}

// BenchmarkCopyInsideTheMount is `cp` of a 1 GiB file (16 MiB in the
// reduced size) to another name in the mount: with copy-data the bytes
// stay on the server. The server's own disk copy of it is reported
// beside it (local-cp-ms).
func BenchmarkCopyInsideTheMount(b *testing.B) {
	size := 1 << 30
	if small() {
		size = 16 << 20
	}
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, fmt.Sprintf("head -c %d /dev/urandom > big", size))
		start := time.Now()
		run(b, served, "cp big local-copy && sync local-copy && rm local-copy")
		local := time.Since(start)
		mnt := benchMount(b, m, link, served)
		b.SetBytes(int64(size))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			run(b, mnt, "cp big copy"+strconv.Itoa(i))
		}
		b.ReportMetric(float64(local.Milliseconds()), "local-cp-ms")
	})
}

// BenchmarkTarOfServerHardLinks is tar -c, on a fresh mount, of two
// snapshots that share every file by hard links made on the server (as
// rsnapshot's or `cp -al`'s): 4 directories of 50 files of 2 KiB each,
// twice. links is how many entries tar stored as links (200 from a local
// disk); a mount that cannot tell them stores each file twice.
func BenchmarkTarOfServerHardLinks(b *testing.B) {
	dirs, files := 4, 50
	if small() {
		dirs, files = 2, 10
	}
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, fmt.Sprintf(`for d in $(seq %d); do mkdir -p s1/d$d; for i in $(seq %d); do head -c 2048 /dev/urandom > s1/d$d/f$i; done; done && cp -al s1 s2`, dirs, files))
		out := filepath.Join(b.TempDir(), "out.tar")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			b.StartTimer()
			run(b, mnt, "tar -cf "+out+" s1 s2")
		}
		b.StopTimer()
		listed, err := exec.Command("tar", "-tvf", out).Output()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(strings.Count(string(listed), " link to ")), "links")
		if fi, err := os.Stat(out); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "tar-MiB")
		}
	})
}

// BenchmarkLsLOfServerHardLinks is `ls -l` on a fresh mount of a
// directory of 5 000 files (200 in the reduced size) each linked from
// another directory by the server (`cp -al`), of sizes all different
// (no two alike, so none is asked about): what links cost a listing that
// needs no identity. BenchmarkLsLOfServerHardLinksAlike is the same of empty files
// made in the same second, each the look-alike of every other, so that
// every one is asked about: the worst case.
func BenchmarkLsLOfServerHardLinks(b *testing.B) {
	benchLsLOfLinks(b, `i=0; seq -f 'name%%06g' 1 %d | while read f; do i=$((i+1)); head -c $i /dev/zero > $f; done`)
}

func BenchmarkLsLOfServerHardLinksAlike(b *testing.B) {
	benchLsLOfLinks(b, `seq -f 'name%%06g' 1 %d | xargs touch -d @1700000000`)
}

func benchLsLOfLinks(b *testing.B, makeFiles string) {
	n := 5000
	if small() {
		n = 200
	}
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, "mkdir d")
		run(b, filepath.Join(served, "d"), fmt.Sprintf(makeFiles, n))
		run(b, served, "cp -al d e")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served)
			run(b, mnt, "stat d > /dev/null")
			b.StartTimer()
			run(b, mnt, "ls -l d | wc -l > /dev/null")
		}
	})
}
