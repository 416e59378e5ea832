package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Benchmarks compare sftpmount with sshfs, mounted side by side on the same
// sshd over the same loopback link. Run:
//
//	go test ./integration -run '^$' -bench . -benchtime 3x
//
// They report; they never fail on timing.

type mounter struct {
	name  string
	mount func(b *testing.B, served, mnt string)
}

var mounters = []mounter{
	{"sftpmount", func(b *testing.B, served, mnt string) {
		args := append([]string{remoteSpec(served), mnt}, standardArgs()...)
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("sftpmount: %v %s", err, out)
		}
	}},
	{"sshfs", func(b *testing.B, served, mnt string) {
		out, err := exec.Command("sshfs", "root@127.0.0.1:"+served, mnt, "-p", strconv.Itoa(server.port),
			"-o", "IdentityFile="+server.userKey+",UserKnownHostsFile="+server.knownHosts+",StrictHostKeyChecking=yes").CombinedOutput()
		if err != nil {
			b.Fatalf("sshfs: %v %s", err, out)
		}
	}},
}

// benchMount mounts served with m and unmounts when the benchmark ends.
func benchMount(b *testing.B, m mounter, served string) string {
	b.Helper()
	if skipAll != "" {
		b.Skip(skipAll)
	}
	mnt, err := os.MkdirTemp(workDir, "bench-mnt-")
	if err != nil {
		b.Fatal(err)
	}
	m.mount(b, served, mnt)
	b.Cleanup(func() {
		exec.Command("fusermount3", "-u", mnt).Run()
		os.Remove(mnt)
	})
	return mnt
}

func benchServedDir(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp(workDir, "bench-served-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0755)
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func run(b *testing.B, dir, script string) {
	b.Helper()
	if out, err := shErr(dir, script); err != nil {
		b.Fatalf("%s: %v\n%s", script, err, out)
	}
}

const benchFileSize = 128 << 20

func BenchmarkSequentialRead128MiB(b *testing.B) {
	for _, m := range mounters {
		b.Run(m.name, func(b *testing.B) {
			served := benchServedDir(b)
			run(b, served, fmt.Sprintf("head -c %d /dev/urandom > f", benchFileSize))
			mnt := benchMount(b, m, served)
			b.SetBytes(benchFileSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run(b, mnt, "cat f > /dev/null")
			}
		})
	}
}

func BenchmarkSequentialWrite128MiB(b *testing.B) {
	for _, m := range mounters {
		b.Run(m.name, func(b *testing.B) {
			served := benchServedDir(b)
			src := filepath.Join(workDir, "bench-src")
			run(b, "/", fmt.Sprintf("head -c %d /dev/urandom > %s", benchFileSize, src))
			defer os.Remove(src)
			mnt := benchMount(b, m, served)
			b.SetBytes(benchFileSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				run(b, mnt, "cp "+src+" out && sync out")
			}
		})
	}
}

func BenchmarkColdLsLR2000Files(b *testing.B) {
	for _, m := range mounters {
		b.Run(m.name, func(b *testing.B) {
			served := benchServedDir(b)
			run(b, served, "for d in $(seq 1 20); do mkdir d$d; (cd d$d && touch $(seq -f f%g 1 100)); done")
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				mnt := benchMount(b, m, served) // a fresh mount: nothing cached
				b.StartTimer()
				run(b, mnt, "ls -lR > /dev/null")
			}
		})
	}
}

func BenchmarkUntar500SmallFiles(b *testing.B) {
	for _, m := range mounters {
		b.Run(m.name, func(b *testing.B) {
			src := filepath.Join(workDir, "bench-tar")
			run(b, "/", "rm -rf "+src+" && mkdir -p "+src+"/t && cd "+src+" && for i in $(seq 1 500); do head -c 2048 /dev/urandom > t/f$i; done && tar -cf small.tar t")
			defer os.RemoveAll(src)
			served := benchServedDir(b)
			mnt := benchMount(b, m, served)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dir := "x" + strconv.Itoa(i)
				start := time.Now()
				run(b, mnt, "mkdir "+dir+" && tar -xf "+src+"/small.tar -C "+dir)
				b.ReportMetric(float64(time.Since(start).Microseconds())/500, "µs/file")
			}
		})
	}
}
