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

// Benchmarks compare sftpmount with sshfs, mounted side by side on the same
// sshd through the same toxiproxy link. Full run (the figures of
// docs/benchmarks.md and of the README's short table, about 35 minutes):
//
//	SFTPMOUNT_BENCH_RTTS=0,10,50 go test ./integration -run '^$' -bench . -benchtime 1x -timeout 120m
//
// SFTPMOUNT_BENCH_RTTS picks the round-trip times in ms (default "0,50");
// SFTPMOUNT_BENCH_SMALL=1 shrinks every workload (as CI runs it). They
// report; they never fail on timing.

type mounter struct {
	name string
	// mount mounts served on mnt through link; opts are -o options both
	// mounters understand.
	mount func(b *testing.B, served, mnt string, link *slowLink, opts ...string)
}

var mounters = []mounter{
	sftpmountWith("sftpmount"),
	{"sshfs", func(b *testing.B, served, mnt string, link *slowLink, opts ...string) {
		args := []string{"root@127.0.0.1:" + served, mnt, "-p", strconv.Itoa(link.port),
			"-o", "IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + link.knownHosts + ",StrictHostKeyChecking=yes"}
		for _, o := range opts {
			args = append(args, "-o", o)
		}
		out, err := exec.Command("sshfs", args...).CombinedOutput()
		if err != nil {
			b.Fatalf("sshfs: %v %s", err, out)
		}
	}},
}

// writebackMounter is sftpmount with -o writeback (issue 17), its
// journal in a directory of the benchmark's own.
var writebackMounter = mounter{"sftpmount-writeback", func(b *testing.B, served, mnt string, link *slowLink, opts ...string) {
	args := append([]string{remoteSpec(served), mnt, "-o", "writeback,writeback_dir=" + filepath.Join(b.TempDir(), "journal")}, link.args()...)
	for _, o := range opts {
		args = append(args, "-o", o)
	}
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("sftpmount -o writeback: %v %s", err, out)
	}
}}

// sshCommandMounter is sftpmount carried by OpenSSH's own client
// (-o ssh_command=ssh, issue 31): what the path through ssh costs next to
// our own SSH.
var sshCommandMounter = sftpmountWith("sftpmount-ssh_command", "ssh_command=ssh")

// noFeedMounter is sftpmount running no command on the server (issue
// 32): no change feed, no bulk listings; the caches' timed rules alone.
var noFeedMounter = sftpmountWith("sftpmount-nofeed", "remote_commands=no")

// sftpmountWith is sftpmount with the -o options extra, named name.
func sftpmountWith(name string, extra ...string) mounter {
	return mounter{name, func(b *testing.B, served, mnt string, link *slowLink, opts ...string) {
		args := append([]string{remoteSpec(served), mnt}, link.args()...)
		for _, o := range append(extra[:len(extra):len(extra)], opts...) {
			args = append(args, "-o", o)
		}
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v %s", name, err, out)
		}
	}}
}

// drainMetric reports, for a write-back mount, how long `sftpmount
// sync` takes to have the queue on the server.
func drainMetric(b *testing.B, m mounter, mnt string) {
	b.Helper()
	if m.name != writebackMounter.name {
		return
	}
	start := time.Now()
	if out, err := exec.Command(binary, "sync", mnt).CombinedOutput(); err != nil {
		b.Fatalf("sftpmount sync: %v %s", err, out)
	}
	b.ReportMetric(time.Since(start).Seconds(), "drain-s")
}

// rclone is `rclone mount --vfs-cache-mode writes` (Debian's rclone),
// the baseline of the workloads where it applies (issue 17): it returns
// from close before uploading. Only where installed; cache_timeout=N
// becomes its --dir-cache-time.
var rclone = mounter{"rclone", func(b *testing.B, served, mnt string, link *slowLink, opts ...string) {
	args := []string{"mount", "bench:" + served, mnt, "--vfs-cache-mode", "writes", "--daemon",
		"--cache-dir", b.TempDir(), "--sftp-host", "127.0.0.1", "--sftp-port", strconv.Itoa(link.port),
		"--sftp-user", "root", "--sftp-key-file", server.userKey, "--sftp-known-hosts-file", link.knownHosts}
	for _, o := range opts {
		if t, ok := strings.CutPrefix(o, "cache_timeout="); ok {
			args = append(args, "--dir-cache-time", t+"s")
		}
	}
	cmd := exec.Command("rclone", args...)
	cmd.Env = append(os.Environ(), "RCLONE_CONFIG_BENCH_TYPE=sftp")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("rclone mount: %v %s", err, out)
	}
	if !waitFor(30*time.Second, func() bool { return isMounted(mnt) }) {
		b.Fatal("rclone mount did not appear")
	}
}}

// withRclone is the mounters, and rclone where installed (not in the
// reduced size: CI's run stays short).
func withRclone() []mounter {
	if _, err := exec.LookPath("rclone"); err != nil || small() {
		return mounters
	}
	return append(append([]mounter(nil), mounters...), rclone)
}

// settle is how long a fresh mount is left before a workload starts.
const settle = 2 * time.Second

func benchRTTs() []int {
	spec := os.Getenv("SFTPMOUNT_BENCH_RTTS")
	if spec == "" {
		spec = "0,50"
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func small() bool { return os.Getenv("SFTPMOUNT_BENCH_SMALL") != "" }

// eachSetup runs body for every RTT and mounter, with a fresh served dir.
func eachSetup(b *testing.B, body func(b *testing.B, m mounter, link *slowLink, served string)) {
	eachSetupOf(b, benchRTTs(), mounters, body)
}

// eachSetupOf is eachSetup at the round-trip times rtts, over the
// mounters ms.
func eachSetupOf(b *testing.B, rtts []int, ms []mounter, body func(b *testing.B, m mounter, link *slowLink, served string)) {
	if skipAll != "" {
		b.Skip(skipAll)
	}
	for _, rtt := range rtts {
		b.Run(fmt.Sprintf("rtt%dms", rtt), func(b *testing.B) {
			link := newSlowLink(b, rtt)
			for _, m := range ms {
				b.Run(m.name, func(b *testing.B) { body(b, m, link, benchServedDir(b)) })
			}
		})
	}
}

// benchMount mounts served with m and unmounts when the benchmark ends.
func benchMount(b *testing.B, m mounter, link *slowLink, served string, opts ...string) string {
	b.Helper()
	mnt, err := os.MkdirTemp(workDir, "bench-mnt-")
	if err != nil {
		b.Fatal(err)
	}
	m.mount(b, served, mnt, link, opts...)
	// sftpmount starts its extra SFTP sessions (max_conns) once mounted,
	// in the background; this sshd takes about 130 ms to start each. The
	// figures are for a mount in use, so both mounts get time to settle.
	if small() {
		time.Sleep(settle / 2) // CI's run reports but is not quoted: keep it short
	} else {
		time.Sleep(settle)
	}
	b.Cleanup(func() {
		if exec.Command("fusermount3", "-u", mnt).Run() != nil {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
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
	limit := 30 * time.Minute
	if small() {
		limit = 3 * time.Minute // CI's reduced run takes 3 minutes in all
	}
	if out, err := shErrWithin(dir, script, limit); err != nil {
		if baseline(b) {
			// sshfs or rclone failing, or hanging (sshfs does when its
			// link stalls), is a figure we lack, not a failure of ours.
			b.Skipf("the baseline failed: %s: %v\n%s", script, err, out)
		}
		b.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// baseline reports whether b runs a baseline, not sftpmount.
func baseline(b *testing.B) bool {
	for _, part := range strings.Split(b.Name(), "/") {
		if name, _, _ := strings.Cut(part, "-"); name == "sshfs" || name == "rclone" {
			return true
		}
	}
	return false
}

// bigFileSize is the sequential workloads' file: 128 MiB, 8 MiB in the
// reduced size, or SFTPMOUNT_BENCH_FILE_MIB (to see the steady state past
// the first round trips).
func bigFileSize() int64 {
	if mib, err := strconv.Atoi(os.Getenv("SFTPMOUNT_BENCH_FILE_MIB")); err == nil && mib > 0 {
		return int64(mib) << 20
	}
	if small() {
		return 8 << 20
	}
	return 128 << 20
}

func BenchmarkSequentialRead(b *testing.B) {
	eachSetupOf(b, benchRTTs(), append(mounters[:len(mounters):len(mounters)], sshCommandMounter), func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, fmt.Sprintf("head -c %d /dev/urandom > f", bigFileSize()))
		mnt := benchMount(b, m, link, served)
		b.SetBytes(bigFileSize())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			run(b, mnt, "cat f > /dev/null")
		}
	})
}

func BenchmarkSequentialWrite(b *testing.B) {
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		src := filepath.Join(workDir, "bench-src")
		run(b, "/", fmt.Sprintf("head -c %d /dev/urandom > %s", bigFileSize(), src))
		defer os.Remove(src)
		mnt := benchMount(b, m, link, served)
		b.SetBytes(bigFileSize())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			// cp closes the file: the time includes every byte reaching the server.
			run(b, mnt, "cp "+src+" out")
		}
	})
}

func BenchmarkColdLsLR(b *testing.B) {
	dirs, files := 20, 100
	if small() {
		dirs, files = 5, 20
	}
	eachSetup(b, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, served, fmt.Sprintf("for d in $(seq 1 %d); do mkdir d$d; (cd d$d && touch $(seq -f f%%g 1 %d)); done", dirs, files))
		b.ResetTimer() // making the tree is not part of the figure
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mnt := benchMount(b, m, link, served) // a fresh mount: nothing cached
			b.StartTimer()
			run(b, mnt, "ls -lR > /dev/null")
		}
	})
}

// cpuBusy is the CPU time the whole machine has spent busy (/proc/stat):
// the client, the server and the link share it here, so a workload's
// share of it is what it costs both ends together.
func cpuBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	var ticks int64
	for i, f := range strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			ticks += v
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

func BenchmarkUntarSmallFiles(b *testing.B) {
	n := 500
	if small() {
		n = 20
	}
	src := filepath.Join(workDir, "bench-tar")
	ms := append(mounters[:len(mounters):len(mounters)], writebackMounter, sshCommandMounter)
	if !small() {
		ms = append(ms, noFeedMounter) // the events of our own writes, handled and relisted: what they cost
	}
	eachSetupOf(b, benchRTTs(), ms, func(b *testing.B, m mounter, link *slowLink, served string) {
		run(b, "/", fmt.Sprintf("rm -rf %s && mkdir -p %s/t && cd %s && for i in $(seq 1 %d); do head -c 2048 /dev/urandom > t/f$i; done && tar -cf small.tar t", src, src, src, n))
		mnt := benchMount(b, m, link, served)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			dir := "x" + strconv.Itoa(i)
			start, busy := time.Now(), cpuBusy()
			run(b, mnt, "mkdir "+dir+" && tar -xf "+src+"/small.tar -C "+dir)
			b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(n), "ms/file")
			b.ReportMetric(time.Since(start).Seconds(), "tar-s")
			b.ReportMetric(float64((cpuBusy()-busy).Microseconds())/1000/float64(n), "cpu-ms/file")
			b.StopTimer()
			drainMetric(b, m, mnt)
			b.StartTimer()
		}
	})
}
