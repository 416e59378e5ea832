//go:build linux

package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Hangs. A mount that stops answering leaves the program using it stuck
// in the kernel, out of reach of a test's bounds, until go test's own
// -timeout ends the run with the test binary's goroutines: the mount's,
// which say why, are in another process. So a command of the tests that
// outlives its bound, and the run a little before its -timeout, ask
// every mount of the run for its goroutines (SIGQUIT: cmd/sftpmount's
// dump.go) and print the ones stuck for a minute or more, by their
// frames in our code, short enough to be the last lines CI shows.

var (
	runningMu     sync.Mutex
	running       = map[string]time.Time{} // tests that asked for the server (needServer), and since when
	mountPointsOf sync.Map                 // mount point -> the test that made it
)

// testRunning records t as running until it ends.
func testRunning(t *testing.T) {
	runningMu.Lock()
	running[t.Name()] = time.Now()
	runningMu.Unlock()
	t.Cleanup(func() {
		runningMu.Lock()
		delete(running, t.Name())
		runningMu.Unlock()
	})
}

// runningTests names the tests running now, longest first.
func runningTests() string {
	runningMu.Lock()
	defer runningMu.Unlock()
	var names []string
	for n := range running {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return running[names[i]].Before(running[names[j]]) })
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s (%v)", n, time.Since(running[n]).Round(time.Second)))
	}
	return strings.Join(out, ", ")
}

// watchTheRun prints where the mounts are stuck, and ends the run, a
// little before go test's -timeout would end it with less to go on.
func watchTheRun() {
	if !flag.Parsed() {
		flag.Parse()
	}
	f := flag.Lookup("test.timeout")
	if f == nil {
		return
	}
	limit, ok := f.Value.(flag.Getter).Get().(time.Duration)
	if !ok || limit <= 3*time.Minute {
		return
	}
	time.AfterFunc(limit-2*time.Minute, func() {
		report := stuckMounts(time.Minute)
		fmt.Fprintf(os.Stderr, "\nFAIL: the run is near its -timeout of %v; running: %s\n%s", limit, runningTests(), report)
		mountPointsOf.Range(func(mnt, _ any) bool {
			exec.Command("fusermount3", "-u", "-z", mnt.(string)).Run()
			return true
		})
		os.Exit(1)
	})
}

// boundedCommand makes cmd end with its whole process group when ctx
// ends (a program stuck on the mount may be bash's child, and hold the
// output pipe), and Wait return soon after even if a child in the kernel
// cannot die.
func boundedCommand(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
}

// goroutineHead is a goroutine's first line in a dump of debug=2.
var goroutineHead = regexp.MustCompile(`^goroutine \d+ \[([^,\]]+)(?:, (\d+) minutes)?.*\]:$`)

// stuckMounts asks every sftpmount of the run for its goroutines and
// summarizes those waiting for at least least, by their first frames in
// our module; "" when none is.
func stuckMounts(least time.Duration) string {
	type proc struct {
		pid int
		mnt string
	}
	var procs []proc
	eachProcess("cmdline", func(pid int, cmdline []byte) {
		args := strings.Split(string(cmdline), "\x00")
		if args[0] != binary {
			return
		}
		mnt := ""
		for _, a := range args[1:] {
			if strings.HasPrefix(a, workDir+"/mnt-") {
				mnt = a
			}
		}
		procs = append(procs, proc{pid, mnt})
		syscall.Kill(pid, syscall.SIGQUIT)
	})
	if len(procs) == 0 {
		return "no sftpmount is running\n"
	}
	time.Sleep(2 * time.Second)
	var b strings.Builder
	for _, p := range procs {
		dumps, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("sftpmount-%d-goroutines-*.txt", p.pid)))
		if len(dumps) == 0 {
			continue
		}
		sort.Strings(dumps)
		data, err := os.ReadFile(dumps[len(dumps)-1])
		if err != nil {
			continue
		}
		groups := stuckGoroutines(string(data), least)
		test, _ := mountPointsOf.Load(p.mnt)
		name, _ := test.(string)
		runningMu.Lock()
		_, current := running[name]
		runningMu.Unlock()
		if len(groups) == 0 || !current && !strings.Contains(groups[0], "Lock]") {
			continue // idle goroutines of a mount whose test is over
		}
		fmt.Fprintf(&b, "sftpmount %d (%v, %s): goroutines stuck %v or more:\n", p.pid, test, filepath.Base(p.mnt), least)
		for i, g := range groups {
			if i == 8 {
				fmt.Fprintf(&b, "  ... %d more kinds\n", len(groups)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", g)
		}
	}
	if b.Len() == 0 {
		return fmt.Sprintf("no goroutine of the %d sftpmount processes is stuck %v or more\n", len(procs), least)
	}
	return b.String()
}

// stuckGoroutines groups the goroutines of dump waiting least or more
// by state and first frames in our module, most common first.
func stuckGoroutines(dump string, least time.Duration) []string {
	count := map[string]int{}
	for _, block := range strings.Split(dump, "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		m := goroutineHead.FindStringSubmatch(lines[0])
		if m == nil || m[2] == "" {
			continue
		}
		minutes, _ := strconv.Atoi(m[2])
		if time.Duration(minutes)*time.Minute < least {
			continue
		}
		var frames []string
		for i := 1; i+1 < len(lines) && len(frames) < 4; i += 2 {
			fn := lines[i]
			if strings.HasPrefix(fn, "created by ") || !strings.Contains(fn, "sftpmount/sftpmount/") {
				continue
			}
			fn = fn[strings.LastIndex(fn, "/")+1:]
			if j := strings.LastIndex(fn, "("); j > 0 {
				fn = fn[:j]
			}
			at := strings.Fields(strings.TrimSpace(lines[i+1]))[0]
			frames = append(frames, fn+" "+filepath.Base(at))
		}
		if len(frames) == 0 {
			continue
		}
		count["["+m[1]+"] "+strings.Join(frames, " < ")]++
	}
	var kinds []string
	for k := range count {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		return count[kinds[i]] > count[kinds[j]] || count[kinds[i]] == count[kinds[j]] && kinds[i] < kinds[j]
	})
	for i, k := range kinds {
		kinds[i] = fmt.Sprintf("%d× %s", count[k], k)
	}
	return kinds
}

func TestAStuckMountIsSummarizedByItsFramesInOurCode(t *testing.T) {
	dump := `goroutine 1 [running]:
main.main()
	/x/main.go:1 +0x1

goroutine 7 [sync.Mutex.Lock, 31 minutes]:
sync.(*Mutex).Lock(0xc000)
	/usr/local/go/src/sync/mutex.go:90 +0x1
github.com/sftpmount/sftpmount/fs.(*FS).forget(0xc000, {0x1, 0x2})
	/w/fs/tree.go:120 +0x1
github.com/sftpmount/sftpmount/fs.feedEvents.Changed({0xc000}, {0x1})
	/w/fs/feed.go:320 +0x1

goroutine 9 [sync.Mutex.Lock, 31 minutes]:
sync.(*Mutex).Lock(0xc000)
	/usr/local/go/src/sync/mutex.go:90 +0x1
github.com/sftpmount/sftpmount/fs.(*FS).forget(0xc000, {0x1, 0x2})
	/w/fs/tree.go:120 +0x1
github.com/sftpmount/sftpmount/fs.feedEvents.Changed({0xc000}, {0x1})
	/w/fs/feed.go:320 +0x1

goroutine 8 [select, 2 minutes]:
github.com/sftpmount/sftpmount/remote.(*feed).run(0xc000)
	/w/remote/feed.go:262 +0x1
`
	got := stuckGoroutines(dump, 5*time.Minute)
	want := []string{"2× [sync.Mutex.Lock] fs.(*FS).forget tree.go:120 < fs.feedEvents.Changed feed.go:320"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := stuckGoroutines(dump, time.Minute); len(got) != 2 {
		t.Fatalf("a minute or more: got %q, want two kinds", got)
	}
}
