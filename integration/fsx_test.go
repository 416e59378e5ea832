//go:build linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The fsx exerciser (fsx_ops_test.go) through the mount, seed by seed,
// alone and beside a process listing the directory, and on a local disk
// to show its model right. SFTPMOUNT_FSX_OPS sets the operations of each
// run (default 3000 a seed; the long run: 100 000). SFTPMOUNT_FSX_SEED
// runs that seed alone in place of each test's own; a failure names its
// seed and shows the operations that led to it, so the same run can be
// made again.

// fsxOps is the count SFTPMOUNT_FSX_OPS names, or else def.
func fsxOps(def int) int {
	if n, err := strconv.Atoi(os.Getenv("SFTPMOUNT_FSX_OPS")); err == nil && n > 0 {
		return n
	}
	return def
}

// fsxSeeds is the seed SFTPMOUNT_FSX_SEED names, or else defaults.
func fsxSeeds(defaults ...int64) []int64 {
	if n, err := strconv.ParseInt(os.Getenv("SFTPMOUNT_FSX_SEED"), 10, 64); err == nil {
		return []int64{n}
	}
	return defaults
}

// fsxOn is a run on m's file fsx (and fsx-b).
func fsxOn(m *mounted, seed int64, ops int) fsxConfig {
	return fsxConfig{path: filepath.Join(m.mnt, "fsx"), served: filepath.Join(m.remote, "fsx"), seed: seed, ops: ops}
}

// runFsx runs c, and fails t with the way to run it again.
func runFsx(t *testing.T, c fsxConfig) {
	t.Helper()
	summary, err := runFsxOps(c)
	if err != nil {
		t.Fatalf("%v\n(again: SFTPMOUNT_FSX_SEED=%d SFTPMOUNT_FSX_OPS=%d go test -count=1 -run '^%s$' ./integration)", err, c.seed, c.ops, t.Name())
	}
	t.Log(summary)
}

// fsx runs ops random operations on path (and a second file beside it)
// in the mount, each checked against the model, and then the server's
// copies at served against it too.
func fsx(path, served string, seed int64, ops int) (summary string, err error) {
	return fsxThen(path, served, seed, ops, nil)
}

// fsxThen is fsx, with settle run after the last close and before the
// server's copies are read (a write-back mount's sync).
func fsxThen(path, served string, seed int64, ops int, settle func() error) (summary string, err error) {
	return runFsxOps(fsxConfig{path: path, served: served, seed: seed, ops: ops, settle: settle})
}

// Each seed on a mount of its own, with nothing else using it.
func TestFsxRandomOperationsMatchTheModel(t *testing.T) {
	for _, seed := range fsxSeeds(1, 2, 3) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runFsx(t, fsxOn(mount(t), seed, fsxOps(3000)))
		})
	}
}

// With another process listing the files' directory all the while (a
// file manager, ls -l in a loop): a listing answered while writes,
// copies or a truncate are on their way must not change what the
// exerciser sees.
func TestFsxBesideAnLsLoopMatchesTheModel(t *testing.T) {
	for _, seed := range fsxSeeds(4, 5, 6) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			m := mount(t)
			stop := listInLoop(m.mnt)
			runFsx(t, fsxOn(m, seed, fsxOps(3000)))
			if n := stop(); n < 10 {
				t.Errorf("the lister ran only %d times beside the exerciser", n)
			} else {
				t.Logf("listed %d times meanwhile", n)
			}
		})
	}
}

// The same runs on a local directory, where fallocate works: the model
// is what a local disk does, so a failure through the mount is the
// mount's.
func TestFsxModelMatchesALocalDisk(t *testing.T) {
	for _, seed := range fsxSeeds(1, 2, 3, 4, 5, 6) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			summary, err := runFsxOps(fsxConfig{path: filepath.Join(t.TempDir(), "fsx"), seed: seed, ops: fsxOps(3000), allocates: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(summary)
		})
	}
}

// listInLoop runs ls -l on dir again and again until stop, which says
// how many times it ran.
func listInLoop(dir string) (stop func() int) {
	done := make(chan struct{})
	listed := make(chan int)
	go func() {
		n := 0
		defer func() { listed <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			exec.Command("ls", "-l", dir).Run()
			n++
		}
	}()
	return func() int { close(done); return <-listed }
}

// fsxInChild runs the exerciser in a process of its own (this test
// binary again): a page fault on the mount taken by Go code here would
// stop every goroutine of this process at the next garbage collection,
// the toxiproxy link included, while the mount waits on that link.
func fsxInChild(path, served string, seed int64, ops int) error {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("SFTPMOUNT_FSX_CHILD=%s|%s|%d|%d", path, served, seed, ops))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// fsxChild is the child's side: args as fsxInChild packs them.
func fsxChild(args string) int {
	f := strings.Split(args, "|")
	seed, _ := strconv.ParseInt(f[2], 10, 64)
	ops, _ := strconv.Atoi(f[3])
	if _, err := fsx(f[0], f[1], seed, ops); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}
