//go:build linux

package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	raceOnce   sync.Once
	raceBinary string
	raceErr    error
)

// raceBuild is sftpmount built with the race detector, so that the real
// concurrent paths (kernel requests served in parallel, write-behind,
// read-ahead, reconnects) run under it.
func raceBuild(t *testing.T) string {
	t.Helper()
	raceOnce.Do(func() {
		raceBinary = filepath.Join(workDir, "sftpmount-race")
		out, err := exec.Command("go", "build", "-race", "-o", raceBinary, "../cmd/sftpmount").CombinedOutput()
		if err != nil {
			raceErr = fmt.Errorf("go build -race: %v: %s", err, out)
		}
	})
	if raceErr != nil {
		t.Fatal(raceErr)
	}
	return raceBinary
}

func TestManyProcessesReadingAndWritingNeverCorruptData(t *testing.T) {
	needServer(t)
	bin := raceBuild(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	cmd := exec.Command(bin, append([]string{remoteSpec(m.remote), m.mnt, "-f"}, standardArgs()...)...)
	cmd.Env = append(append(baseEnv(), "GORACE=halt_on_error=0"), home(t)...)
	stderr := serveInForeground(t, cmd, m.mnt)

	const region = 4 << 20 // each writer's part of the shared file
	local := t.TempDir()
	randomFile(t, filepath.Join(m.remote, "static"), 8<<20)
	sh(t, local, "cp "+filepath.Join(m.remote, "static")+" static")
	sh(t, m.remote, fmt.Sprintf("truncate -s %d shared", 4*region))
	var scripts []string
	for i := 0; i < 4; i++ {
		randomFile(t, filepath.Join(local, fmt.Sprintf("own%d", i)), 6<<20)
		randomFile(t, filepath.Join(local, fmt.Sprintf("part%d", i)), region)
		// A file of its own: write, then read back through the mount.
		scripts = append(scripts, fmt.Sprintf("cp %s/own%d own%d && cmp %s/own%d own%d", local, i, i, local, i, i))
		// Its own region of one shared file, written in place.
		scripts = append(scripts, fmt.Sprintf("dd if=%s/part%d of=shared bs=64k seek=%d conv=notrunc status=none", local, i, i*region/(64<<10)))
		// A file nobody writes, read again and again meanwhile.
		scripts = append(scripts, fmt.Sprintf("for n in 1 2 3; do cmp static %s/static; done", local))
	}
	var wg sync.WaitGroup
	errs := make([]string, len(scripts))
	for i, s := range scripts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := shErr(m.mnt, s); err != nil {
				errs[i] = fmt.Sprintf("%s: %v: %s", s, err, out)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	// What the server holds, read directly.
	for i := 0; i < 4; i++ {
		if sha(t, filepath.Join(m.remote, fmt.Sprintf("own%d", i))) != sha(t, filepath.Join(local, fmt.Sprintf("own%d", i))) {
			t.Errorf("own%d differs on the server", i)
		}
	}
	sh(t, local, "cat part0 part1 part2 part3 > shared")
	if sha(t, filepath.Join(m.remote, "shared")) != sha(t, filepath.Join(local, "shared")) {
		t.Error("the shared file on the server is not the four regions in order")
	}
	if sha(t, filepath.Join(m.remote, "static")) != sha(t, filepath.Join(local, "static")) {
		t.Error("the file nobody wrote changed")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	// A race-enabled program that saw a race exits 66.
	if strings.Contains(stderr.String(), "DATA RACE") || cmd.ProcessState.ExitCode() == 66 {
		t.Fatalf("the race detector found a race:\n%s", stderr.String())
	}
}

// Copies in and out, and reads of one file, while the link is reset every
// 700 ms, under the race detector: calls cut off by a reset and tried again
// on the next connection must share nothing with their first attempt. (A
// read's first attempt, left running, wrote its count and bytes over its
// retry's; only the detector saw it, as the rare wrong read of the soak.)
func TestCallsCutOffByResetsAndTriedAgainRaceWithNothing(t *testing.T) {
	needServer(t)
	bin := raceBuild(t)
	link := newSlowLink(t, 0)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	cmd := exec.Command(bin, append([]string{remoteSpec(m.remote), m.mnt, "-f", "-o", "timeout=20"}, link.args()...)...)
	cmd.Env = append(append(baseEnv(), "GORACE=halt_on_error=0"), home(t)...)
	stderr := serveInForeground(t, cmd, m.mnt)

	local := t.TempDir()
	randomFile(t, filepath.Join(local, "src"), 16<<20)
	randomFile(t, filepath.Join(m.remote, "static"), 8<<20)
	stop := make(chan struct{})
	resetting := make(chan struct{})
	go func() {
		defer close(resetting)
		for {
			select {
			case <-stop:
				return
			case <-time.After(700 * time.Millisecond):
				link.reset(t)
			}
		}
	}()
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		// Errors are expected (EIO for what cannot be repeated); bytes
		// that arrive must be right, checked below and by cmp.
		shErr(m.mnt, fmt.Sprintf("cp %s/src c%d && cmp %s/src c%d && cmp static %s/static", local, i, local, i, m.remote))
	}
	close(stop)
	<-resetting
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if strings.Contains(stderr.String(), "DATA RACE") || cmd.ProcessState.ExitCode() == 66 {
		t.Fatalf("the race detector found a race:\n%s", tail(stderr.String(), 80))
	}
}
