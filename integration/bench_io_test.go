//go:build linux

package integration

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func BenchmarkRandomRead4KiB(b *testing.B) {
	size, reads := int64(256<<20), 200
	if small() {
		size, reads = 16<<20, 50
	}
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, fmt.Sprintf("head -c %d /dev/urandom > f", size))
		mnt := benchMount(b, m, link, served)
		rng := rand.New(rand.NewSource(7))
		buf := make([]byte, 4096)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			f, err := os.Open(filepath.Join(mnt, "f"))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for r := 0; r < reads; r++ {
				if _, err := f.ReadAt(buf, rng.Int63n(size/4096)*4096); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(reads), "ms/read")
			f.Close()
		}
	})
}

// BenchmarkSequentialReadWithoutAMount is the baseline of the command-line
// tools: scp and sftp fetch the same file through the same link.
func BenchmarkSequentialReadWithoutAMount(b *testing.B) {
	if skipAll != "" {
		b.Skip(skipAll)
	}
	for _, rtt := range benchRTTs() {
		b.Run(fmt.Sprintf("rtt%dms", rtt), func(b *testing.B) {
			link := newSlowLink(b, rtt)
			served := benchServedDir(b)
			run(b, served, fmt.Sprintf("head -c %d /dev/urandom > f", bigFileSize()))
			opts := fmt.Sprintf("-i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes", server.userKey, link.knownHosts)
			tools := map[string]string{
				"scp":  fmt.Sprintf("scp -q -P %d %s root@127.0.0.1:%s/f /dev/null", link.port, opts, served),
				"sftp": fmt.Sprintf("echo 'get %s/f /dev/null' | sftp -q -b - -P %d %s root@127.0.0.1 > /dev/null", served, link.port, opts),
			}
			for _, name := range []string{"scp", "sftp"} {
				b.Run(name, func(b *testing.B) {
					b.SetBytes(bigFileSize())
					for i := 0; i < b.N; i++ {
						run(b, "/", tools[name])
					}
				})
			}
		})
	}
}

// BenchmarkFourCopiesMemory copies four large files into the mount and
// four out of it at once and reports the mount process's peak resident
// set (VmHWM).
func BenchmarkFourCopiesMemory(b *testing.B) {
	size := int64(256 << 20)
	if small() {
		size = 16 << 20
	}
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		local := filepath.Join(workDir, "bench-copies")
		os.MkdirAll(local, 0755)
		defer os.RemoveAll(local)
		for i := 0; i < 4; i++ {
			run(b, "/", fmt.Sprintf("head -c %d /dev/urandom > %s/in%d && cp %s/in%d %s/out%d", size, local, i, local, i, served, i))
		}
		mnt := benchMount(b, m, link, served)
		pid := mountProcess(b, m.name, mnt)
		b.SetBytes(8 * size)
		b.ResetTimer()
		for n := 0; n < b.N; n++ {
			var wg sync.WaitGroup
			for i := 0; i < 4; i++ {
				wg.Add(2)
				go func() { defer wg.Done(); run(b, mnt, fmt.Sprintf("cp %s/in%d in%d", local, i, i)) }()
				go func() { defer wg.Done(); run(b, mnt, fmt.Sprintf("cp out%d %s/back%d", i, local, i)) }()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(peakRSS(b, pid))/1024, "MiB-peak-RSS")
	})
}

// mountProcess finds the process serving mnt: sftpmount's background
// process, or sshfs.
func mountProcess(b *testing.B, name, mnt string) int {
	var found int
	eachProcess("cmdline", func(pid int, cmdline []byte) {
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) != name && args[0] != binary {
			return
		}
		for _, a := range args[1:] {
			if a == mnt {
				found = pid
			}
		}
	})
	if found == 0 {
		b.Fatalf("no %s process serves %s", name, mnt)
	}
	return found
}

// peakRSS is VmHWM of pid in KiB.
func peakRSS(b testing.TB, pid int) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb
		}
	}
	b.Fatal("no VmHWM in /proc/" + strconv.Itoa(pid) + "/status")
	return 0
}

// BenchmarkLsDuringALargeRead lists small directories, each for the first
// time, while another process reads a large file through the same mount:
// the listing should wait for its own round trips, not for the transfer.
func BenchmarkLsDuringALargeRead(b *testing.B) {
	dirs := 10
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, fmt.Sprintf("head -c %d /dev/urandom > big && for d in $(seq 1 %d); do mkdir d$d && touch d$d/a d$d/b; done", bigFileSize(), dirs))
		mnt := benchMount(b, m, link, served)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			reading := make(chan struct{})
			go func() { defer close(reading); run(b, mnt, "cat big > /dev/null") }()
			time.Sleep(50 * time.Millisecond) // the transfer is under way
			var took time.Duration
			listed := 0
			for d := 1; d <= dirs; d++ {
				select {
				case <-reading:
				default:
					start := time.Now()
					run(b, mnt, fmt.Sprintf("ls -l d%d > /dev/null", d))
					took += time.Since(start)
					listed++
				}
			}
			<-reading
			if listed == 0 {
				b.Log("the read ended before any listing (a small file on a fast link): no figure")
				continue
			}
			b.ReportMetric(float64(took.Milliseconds())/float64(listed), "ms/ls")
			b.ReportMetric(float64(listed), "listings")
		}
	})
}
