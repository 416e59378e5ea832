package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// An fsx-style exerciser: random writes, truncates, reads, fsyncs, mmap
// reads and reopens on one file through the mount, each checked against a
// model kept in memory, and the server's copy checked at the end.
// SFTPMOUNT_FSX_OPS sets the count (CI: 10 000; the long run: 100 000).
// SFTPMOUNT_FSX_SEED picks another sequence of operations (default 1); a
// failure names its seed, so the same sequence can be run again.

func fsxOps() int {
	if n, err := strconv.Atoi(os.Getenv("SFTPMOUNT_FSX_OPS")); err == nil && n > 0 {
		return n
	}
	return 10000
}

func fsxSeed() int64 {
	if n, err := strconv.ParseInt(os.Getenv("SFTPMOUNT_FSX_SEED"), 10, 64); err == nil {
		return n
	}
	return 1
}

const fsxMaxSize = 512 << 10

func runFsx(t *testing.T, m *mounted, seed int64, ops int) {
	t.Helper()
	summary, err := fsx(filepath.Join(m.mnt, "fsx"), filepath.Join(m.remote, "fsx"), seed, ops)
	if err != nil {
		t.Fatalf("%v (replay with SFTPMOUNT_FSX_SEED=%d SFTPMOUNT_FSX_OPS=%d)", err, seed, ops)
	}
	t.Log(summary)
}

// fsx runs ops random operations on path in the mount, each checked
// against the model, and then the server's copy at served against it too.
func fsx(path, served string, seed int64, ops int) (summary string, err error) {
	return fsxThen(path, served, seed, ops, nil)
}

// fsxThen is fsx, with settle run after the last close and before the
// server's copy is read (a write-back mount's sync).
func fsxThen(path, served string, seed int64, ops int, settle func() error) (summary string, err error) {
	rng := rand.New(rand.NewSource(seed))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0644)
	if err != nil {
		return "", err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var model []byte
	runBegun, opBegun := time.Now(), time.Now()
	check := func(op int, what string, got, want []byte) error {
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			// The times let a failure be found in the mount's -d log.
			return fmt.Errorf("%s: op %d (%s, begun %s; seed %d, run begun %s): mismatch at byte %d: got %d bytes, want %d",
				path, op, what, opBegun.Format("15:04:05.000000"), seed, runBegun.Format("15:04:05.000000"), i, len(got), len(want))
		}
		return nil
	}
	for op := 0; op < ops; op++ {
		opBegun = time.Now()
		switch r := rng.Intn(100); {
		case r < 40: // write
			off := rng.Intn(fsxMaxSize - 1)
			n := 1 + rng.Intn(min(64<<10, fsxMaxSize-off))
			data := make([]byte, n)
			rng.Read(data)
			if _, err := f.WriteAt(data, int64(off)); err != nil {
				return "", fmt.Errorf("op %d: write %d@%d: %v", op, n, off, err)
			}
			if end := off + n; end > len(model) {
				model = append(model, make([]byte, end-len(model))...)
			}
			copy(model[off:], data)
		case r < 75: // read
			off := rng.Intn(fsxMaxSize)
			n := 1 + rng.Intn(64<<10)
			buf := make([]byte, n)
			got, err := f.ReadAt(buf, int64(off))
			if err != nil && !errors.Is(err, io.EOF) {
				// Not a short read: an error (a lost link's EIO) is
				// the application's to see, and no mismatch.
				return "", fmt.Errorf("op %d: read %d@%d: %v", op, n, off, err)
			}
			want := []byte{}
			if off < len(model) {
				want = model[off:min(off+n, len(model))]
			}
			if err := check(op, fmt.Sprintf("read %d@%d", n, off), buf[:got], want); err != nil {
				return "", err
			}
		case r < 85: // truncate
			size := rng.Intn(fsxMaxSize)
			if err := f.Truncate(int64(size)); err != nil {
				return "", fmt.Errorf("op %d: truncate %d: %v", op, size, err)
			}
			if size < len(model) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, size-len(model))...)
			}
		case r < 90: // size, by fstat and by lseek(SEEK_END)
			fi, err := f.Stat()
			if err != nil || fi.Size() != int64(len(model)) {
				return "", fmt.Errorf("op %d: fstat size %v (%v), want %d", op, fi.Size(), err, len(model))
			}
			if end, err := f.Seek(0, io.SeekEnd); err != nil || end != int64(len(model)) {
				return "", fmt.Errorf("op %d: lseek(SEEK_END) %d (%v), want %d", op, end, err, len(model))
			}
		case r < 93: // fsync
			if err := f.Sync(); err != nil {
				return "", fmt.Errorf("op %d: fsync: %v", op, err)
			}
		case r < 96: // mmap read of the whole file
			if len(model) == 0 {
				continue
			}
			data, err := unix.Mmap(int(f.Fd()), 0, len(model), unix.PROT_READ, unix.MAP_SHARED)
			if err != nil {
				return "", fmt.Errorf("op %d: mmap: %v", op, err)
			}
			got, err := copyOut(data)
			unix.Munmap(data)
			if err != nil {
				return "", fmt.Errorf("op %d: reading the mapping: %v", op, err)
			}
			if err := check(op, "mmap read", got, model); err != nil {
				return "", err
			}
		default: // close and reopen: close must report any error
			if err := f.Close(); err != nil {
				return "", fmt.Errorf("op %d: close: %v", op, err)
			}
			if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
				return "", fmt.Errorf("op %d: reopen: %v", op, err)
			}
		}
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", fmt.Errorf("final close: %v", err)
	}
	if settle != nil {
		if err := settle(); err != nil {
			return "", err
		}
	}
	server, err := os.ReadFile(served)
	if err != nil {
		return "", err
	}
	if err := check(ops, "server copy at the end", server, model); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d operations, 0 mismatches; final size %d", ops, len(model)), nil
}

// copyOut copies a mapping of a file on the mount through system calls (a
// write to a memfd, then a read), so its page faults are taken in the
// kernel, inside a system call. Copied by Go code, a page that waits for
// sftpmount blocks a garbage collection's stop-the-world, which then halts
// every goroutine of the test binary: the toxiproxy link and whatever
// resets it included. sftpmount waits for them, the fault for sftpmount
// (the kernel retries a failed fault for good): a deadlock.
func copyOut(mapped []byte) ([]byte, error) {
	fd, err := unix.MemfdCreate("fsx-mmap", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "fsx-mmap")
	defer f.Close()
	if _, err := f.Write(mapped); err != nil {
		return nil, err
	}
	got := make([]byte, len(mapped))
	if _, err := f.ReadAt(got, 0); err != nil {
		return nil, err
	}
	return got, nil
}

// With another process listing the file's directory all the while (a
// file manager, ls -l in a loop): a listing answered while writes or a
// truncate are on their way must not change the size the exerciser sees.
func TestFsxRandomOperationsMatchTheModel(t *testing.T) {
	m := mount(t)
	stop := make(chan struct{})
	listed := make(chan int)
	go func() {
		n := 0
		defer func() { listed <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			exec.Command("ls", "-l", m.mnt).Run()
			n++
		}
	}()
	runFsx(t, m, fsxSeed(), fsxOps())
	close(stop)
	if n := <-listed; n < 10 {
		t.Errorf("the lister ran only %d times beside the exerciser", n)
	} else {
		t.Logf("listed %d times meanwhile", n)
	}
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
