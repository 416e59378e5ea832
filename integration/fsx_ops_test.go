//go:build linux

package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The fsx exerciser's operations, on two files at once, each checked
// against a model of the bytes a local disk would hold. What the mount
// cannot do is part of the model: it serves no fallocate(2) (fs/ has no
// Allocate, and go-fuse then answers ENOTSUP), so there every fallocate,
// punch hole included, must fail with exactly EOPNOTSUPP and change
// nothing. TestFsxModelMatchesALocalDisk runs the same operations on a
// local directory, where fallocate works, to show the model is right.

const (
	fsxMaxSize = 512 << 10 // no operation makes a file longer
	fsxMaxLen  = 64 << 10  // the most one operation reads, writes or copies
	fsxLogLen  = 50        // the operations a failure shows
)

// fsxConfig is one run of the exerciser.
type fsxConfig struct {
	path   string // the first file; the second is path + "-b"
	served string // the server's copy of path; "" on a local disk
	seed   int64
	ops    int
	// allocates: the filesystem serves fallocate(2). Where it does not,
	// every call must fail with EOPNOTSUPP and leave the file as it was.
	allocates bool
	// resets: the link is reset meanwhile. An append cut off by a reset
	// fails rather than risk landing twice (docs/network.md), and may have landed
	// once: the run opens nothing with O_APPEND.
	resets bool
	settle func() error // after the last close, before the server's copies are read
}

// fsxFile is one file of a run: its open handle and its model.
type fsxFile struct {
	name         string // for the log: a or b
	path, served string
	f            *os.File
	appending    bool     // f has O_APPEND: its writes land at the end
	other        *os.File // nil, or a second handle, write-only and appending
	model        []byte
}

// fsxRun is a run in progress.
type fsxRun struct {
	fsxConfig
	rng    *rand.Rand
	files  []*fsxFile
	begun  time.Time
	log    []string       // the last fsxLogLen operations, the current one last
	counts map[string]int // operations done, by kind
}

// fsxOp is one kind of operation: it works on f (and g, the other file,
// for a copy across files), logs what it does, and checks the result.
type fsxOp struct {
	kind   string
	weight int // in 100
	do     func(r *fsxRun, f, g *fsxFile) error
}

var fsxKinds = []fsxOp{
	{"write", 26, (*fsxRun).write},
	{"read", 17, (*fsxRun).read},
	{"mmap read", 4, (*fsxRun).mmapRead},
	{"mmap write", 6, (*fsxRun).mmapWrite},
	{"truncate", 8, (*fsxRun).truncate},
	{"copy within", 6, (*fsxRun).copyWithin},
	{"copy across", 6, (*fsxRun).copyAcross},
	{"fallocate", 6, (*fsxRun).fallocate},
	{"length", 4, (*fsxRun).length},
	{"fsync", 5, (*fsxRun).fsync},
	{"reopen", 5, (*fsxRun).reopen},
	{"open and read", 4, (*fsxRun).openAndRead},
	{"append by another", 3, (*fsxRun).appendByAnother},
}

// fsxError is a failed run: the seed and the operations that led to it.
type fsxError struct {
	seed int64
	op   int
	err  error
	log  []string
}

func (e *fsxError) Error() string {
	return fmt.Sprintf("seed %d, op %d: %v\nthe last %d operations:\n%s", e.seed, e.op, e.err, len(e.log), strings.Join(e.log, "\n"))
}

// runFsxOps runs c and checks every file, through the filesystem and on
// the server, against the model at the end.
func runFsxOps(c fsxConfig) (summary string, err error) {
	r := &fsxRun{fsxConfig: c, rng: rand.New(rand.NewSource(c.seed)), begun: time.Now(), counts: map[string]int{}}
	for i, name := range []string{"a", "b"} {
		f := &fsxFile{name: name, path: c.path, served: c.served}
		if i > 0 {
			f.path += "-" + name
			if f.served != "" {
				f.served += "-" + name
			}
		}
		r.files = append(r.files, f)
	}
	defer func() {
		for _, f := range r.files {
			for _, h := range []*os.File{f.f, f.other} {
				if h != nil {
					h.Close()
				}
			}
		}
	}()
	fail := func(op int, err error) error {
		return &fsxError{seed: c.seed, op: op, err: err, log: r.log}
	}
	for _, f := range r.files {
		if err := r.open(f, os.O_RDWR|os.O_CREATE|os.O_TRUNC); err != nil {
			return "", fail(0, err)
		}
	}
	total := 0
	for _, o := range fsxKinds {
		total += o.weight
	}
	for op := 0; op < c.ops; op++ {
		f, g := r.files[0], r.files[1]
		if r.rng.Intn(2) == 1 {
			f, g = g, f
		}
		pick := r.rng.Intn(total)
		for _, o := range fsxKinds {
			if pick -= o.weight; pick < 0 {
				r.note("op %d %s %s:", op, time.Now().Format("15:04:05.000000"), o.kind)
				if err := o.do(r, f, g); err != nil {
					return "", fail(op, err)
				}
				r.counts[o.kind]++
				break
			}
		}
	}
	r.note("the end: close, then compare")
	for _, f := range r.files {
		for _, h := range []**os.File{&f.f, &f.other} {
			if *h == nil {
				continue
			}
			err := (*h).Close()
			*h = nil
			if err != nil {
				return "", fail(c.ops, fmt.Errorf("close %s: %v", f.name, err))
			}
		}
	}
	if c.settle != nil {
		if err := c.settle(); err != nil {
			return "", fail(c.ops, err)
		}
	}
	var sizes []string
	for _, f := range r.files {
		for _, p := range []string{f.path, f.served} {
			if p == "" {
				continue
			}
			got, err := os.ReadFile(p)
			if err != nil {
				return "", fail(c.ops, err)
			}
			if err := r.compare(p+" at the end", got, f.model); err != nil {
				return "", fail(c.ops, err)
			}
		}
		sizes = append(sizes, fmt.Sprintf("%s %d", f.name, len(f.model)))
	}
	var done []string
	for _, o := range fsxKinds {
		done = append(done, fmt.Sprintf("%s %d", o.kind, r.counts[o.kind]))
	}
	return fmt.Sprintf("seed %d: %d operations (%s), 0 mismatches; final sizes %s; %v",
		c.seed, c.ops, strings.Join(done, ", "), strings.Join(sizes, ", "), time.Since(r.begun).Round(time.Millisecond)), nil
}

// note adds a line to the log, or to its last line when it starts with a
// space (what the current operation does).
func (r *fsxRun) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if strings.HasPrefix(s, " ") && len(r.log) > 0 {
		r.log[len(r.log)-1] += s
		return
	}
	if len(r.log) == fsxLogLen {
		r.log = r.log[1:]
	}
	r.log = append(r.log, s)
}

// compare says where got first differs from want.
func (r *fsxRun) compare(what string, got, want []byte) error {
	if bytes.Equal(got, want) {
		return nil
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	j := i // the end of the first run of wrong bytes
	for j < len(got) && j < len(want) && got[j] != want[j] {
		j++
	}
	show := func(b []byte) []byte { return b[min(i, len(b)):min(i+8, len(b))] }
	return fmt.Errorf("%s: mismatch at byte %d (wrong through %d; there got % x, want % x): got %d bytes, want %d", what, i, j, show(got), show(want), len(got), len(want))
}

// open opens f's file with flags, closing its handle first.
func (r *fsxRun) open(f *fsxFile, flags int) error {
	if f.f != nil {
		err := f.f.Close()
		f.f = nil
		if err != nil { // close must report any error
			return fmt.Errorf("close %s: %v", f.name, err)
		}
	}
	h, err := os.OpenFile(f.path, flags, 0644)
	if err != nil {
		return fmt.Errorf("open %s: %v", f.name, err)
	}
	f.f, f.appending = h, flags&os.O_APPEND != 0
	if flags&os.O_TRUNC != 0 {
		f.model = f.model[:0]
	}
	return nil
}

// checkLength is the cheap check after every change: fstat's size.
func (r *fsxRun) checkLength(f *fsxFile) error {
	fi, err := f.f.Stat()
	if err != nil {
		return fmt.Errorf("fstat %s: %v", f.name, err)
	}
	if fi.Size() != int64(len(f.model)) {
		return fmt.Errorf("fstat %s: length %d, want %d", f.name, fi.Size(), len(f.model))
	}
	return nil
}

// put writes data into f's model at off, growing it as a write does.
func (f *fsxFile) put(off int, data []byte) {
	f.grow(off + len(data))
	copy(f.model[off:], data)
}

// grow lengthens f's model with zeros to at least n bytes.
func (f *fsxFile) grow(n int) {
	if n > len(f.model) {
		f.model = append(f.model, make([]byte, n-len(f.model))...)
	}
}

// span picks an offset and a length of 1 to fsxMaxLen that end by fsxMaxSize.
func (r *fsxRun) span() (off, n int) {
	off = r.rng.Intn(fsxMaxSize - 1)
	return off, 1 + r.rng.Intn(min(fsxMaxLen, fsxMaxSize-off))
}

func (r *fsxRun) write(f, _ *fsxFile) error {
	off, n := r.span()
	data := make([]byte, n)
	r.rng.Read(data)
	var err error
	if f.appending {
		off = len(f.model)
		if off+n > fsxMaxSize {
			n = max(0, fsxMaxSize-off)
			data = data[:n]
		}
		r.note(" %s %d appended at %d", f.name, n, off)
		_, err = f.f.Write(data)
	} else {
		r.note(" %s %d@%d", f.name, n, off)
		_, err = f.f.WriteAt(data, int64(off))
	}
	if err != nil {
		return err
	}
	f.put(off, data)
	return r.checkLength(f)
}

func (r *fsxRun) read(f, _ *fsxFile) error {
	off := r.rng.Intn(fsxMaxSize)
	n := 1 + r.rng.Intn(fsxMaxLen)
	r.note(" %s %d@%d", f.name, n, off)
	buf := make([]byte, n)
	got, err := f.f.ReadAt(buf, int64(off))
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	want := []byte{}
	if off < len(f.model) {
		want = f.model[off:min(off+n, len(f.model))]
	}
	return r.compare(fmt.Sprintf("read %s %d@%d", f.name, n, off), buf[:got], want)
}

func (r *fsxRun) mmapRead(f, _ *fsxFile) error {
	r.note(" %s, all %d bytes", f.name, len(f.model))
	if len(f.model) == 0 {
		return nil
	}
	data, err := unix.Mmap(int(f.f.Fd()), 0, len(f.model), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %v", err)
	}
	got, err := copyOut(data)
	unix.Munmap(data)
	if err != nil {
		return fmt.Errorf("reading the mapping: %v", err)
	}
	return r.compare("mmap read "+f.name, got, f.model)
}

// mmapWrite changes bytes inside the file through a shared mapping, then
// msyncs it (two times in three) or only unmaps it, leaving the dirty
// pages to the kernel.
func (r *fsxRun) mmapWrite(f, _ *fsxFile) error {
	if len(f.model) == 0 {
		r.note(" %s is empty", f.name)
		return nil
	}
	off := r.rng.Intn(len(f.model))
	n := 1 + r.rng.Intn(min(fsxMaxLen, len(f.model)-off))
	data := make([]byte, n)
	r.rng.Read(data)
	sync := r.rng.Intn(3) > 0
	r.note(" %s %d@%d, msync %v", f.name, n, off, sync)
	mapped, err := unix.Mmap(int(f.f.Fd()), 0, len(f.model), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %v", err)
	}
	err = copyIn(mapped[off:off+n], data)
	if err == nil && sync {
		if err = unix.Msync(mapped, unix.MS_SYNC); err != nil {
			err = fmt.Errorf("msync: %v", err)
		}
	}
	if err2 := unix.Munmap(mapped); err == nil && err2 != nil {
		err = fmt.Errorf("munmap: %v", err2)
	}
	if err != nil {
		return err
	}
	f.put(off, data)
	return r.checkLength(f)
}

// truncate shortens or lengthens f, one or the other by a coin.
func (r *fsxRun) truncate(f, _ *fsxFile) error {
	size := len(f.model) + 1 + r.rng.Intn(fsxMaxSize-len(f.model)+1) // up
	if r.rng.Intn(2) == 0 || len(f.model) == fsxMaxSize {
		size = r.rng.Intn(len(f.model) + 1) // down, or to the same length
	}
	size = min(size, fsxMaxSize)
	r.note(" %s from %d to %d", f.name, len(f.model), size)
	if err := f.f.Truncate(int64(size)); err != nil {
		return err
	}
	f.model = f.model[:min(size, len(f.model))]
	f.grow(size)
	return r.checkLength(f)
}

// copyWithin copies a range of f to another, not overlapping it, in the
// same file: the source lies inside the file, the destination may lie
// past its end.
func (r *fsxRun) copyWithin(f, _ *fsxFile) error {
	if len(f.model) < 2 {
		r.note(" %s is too short", f.name)
		return nil
	}
	n := 1 + r.rng.Intn(min(fsxMaxLen, len(f.model)/2))
	in := r.rng.Intn(len(f.model) - n + 1)
	out := r.rng.Intn(fsxMaxSize - n + 1)
	if out < in+n && in < out+n { // overlapping: somewhere before, or after
		switch {
		case in >= n:
			out = r.rng.Intn(in - n + 1)
		case in+2*n <= fsxMaxSize:
			out = in + n + r.rng.Intn(fsxMaxSize-in-2*n+1)
		default:
			r.note(" %s: no room for %d@%d", f.name, n, in)
			return nil
		}
	}
	return r.copyRange(f, in, f, out, n)
}

// copyAcross copies a range of f, which may run past its end, into g.
func (r *fsxRun) copyAcross(f, g *fsxFile) error {
	in := r.rng.Intn(fsxMaxSize)
	out, n := r.span()
	return r.copyRange(f, in, g, out, n)
}

// copyRange copies n bytes of f at in to g at out with copy_file_range(2),
// again after a short count, and checks that it copied what f has there.
func (r *fsxRun) copyRange(f *fsxFile, in int, g *fsxFile, out, n int) error {
	want := min(n, max(0, len(f.model)-in))
	r.note(" %s %d@%d to %s@%d, %d to copy", f.name, n, in, g.name, out, want)
	if g.appending { // copy_file_range(2): EBADF, fd_out has O_APPEND
		_, err := unix.CopyFileRange(int(f.f.Fd()), nil, int(g.f.Fd()), nil, n, 0)
		if !errors.Is(err, syscall.EBADF) {
			return fmt.Errorf("into a file with O_APPEND: %v, want EBADF", err)
		}
		return nil
	}
	if want == 0 { // from past the end: nothing to copy, and nothing copied
		offIn, offOut := int64(in), int64(out)
		if c, err := unix.CopyFileRange(int(f.f.Fd()), &offIn, int(g.f.Fd()), &offOut, n, 0); c != 0 || err != nil {
			return fmt.Errorf("copied %d (%v), want 0", c, err)
		}
		return r.checkLength(g)
	}
	src := bytes.Clone(f.model[in : in+want])
	done := 0
	for done < want {
		offIn, offOut := int64(in+done), int64(out+done)
		c, err := unix.CopyFileRange(int(f.f.Fd()), &offIn, int(g.f.Fd()), &offOut, n-done, 0)
		if err != nil {
			return fmt.Errorf("after %d bytes: %v", done, err)
		}
		if c == 0 {
			return fmt.Errorf("copied %d bytes, then 0: want %d", done, want)
		}
		done += c
	}
	if done > want {
		return fmt.Errorf("copied %d bytes, want %d", done, want)
	}
	g.put(out, src)
	return r.checkLength(g)
}

// fallocate allocates (mode 0 and KEEP_SIZE) or punches a hole. Where
// the filesystem has no fallocate, each must fail with EOPNOTSUPP.
func (r *fsxRun) fallocate(f, _ *fsxFile) error {
	off, n := r.span()
	modes := []struct {
		name string
		mode uint32
	}{{"allocate", 0}, {"allocate, keep length", unix.FALLOC_FL_KEEP_SIZE}, {"punch hole", unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE}}
	m := modes[r.rng.Intn(len(modes))]
	r.note(" %s %s %d@%d", m.name, f.name, n, off)
	err := unix.Fallocate(int(f.f.Fd()), m.mode, int64(off), int64(n))
	if !r.allocates {
		if !errors.Is(err, syscall.EOPNOTSUPP) {
			return fmt.Errorf("%v, want EOPNOTSUPP (the mount serves no fallocate)", err)
		}
		return r.checkLength(f)
	}
	if err != nil {
		return err
	}
	switch m.mode {
	case 0:
		f.grow(off + n)
	case unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE:
		if off < len(f.model) {
			clear(f.model[off:min(off+n, len(f.model))])
		}
	}
	return r.checkLength(f)
}

// length checks the size by fstat and by lseek(SEEK_END).
func (r *fsxRun) length(f, _ *fsxFile) error {
	r.note(" %s", f.name)
	if err := r.checkLength(f); err != nil {
		return err
	}
	if end, err := f.f.Seek(0, io.SeekEnd); err != nil || end != int64(len(f.model)) {
		return fmt.Errorf("lseek(SEEK_END) %d (%v), want %d", end, err, len(f.model))
	}
	return nil
}

// fsync syncs f, and then the server's copy must match the model.
func (r *fsxRun) fsync(f, _ *fsxFile) error {
	r.note(" %s", f.name)
	if err := f.f.Sync(); err != nil {
		return err
	}
	if f.served == "" {
		return nil
	}
	got, err := os.ReadFile(f.served)
	if err != nil {
		return err
	}
	return r.compare("the server's "+f.name+" after fsync", got, f.model)
}

// reopen closes f and opens it again: read-write, appending, or
// truncating.
func (r *fsxRun) reopen(f, _ *fsxFile) error {
	flags := os.O_RDWR
	switch r.rng.Intn(8) {
	case 0, 1:
		if !r.resets {
			flags |= os.O_APPEND
		}
	case 2:
		flags |= os.O_TRUNC
	}
	r.note(" %s, append %v, truncate %v", f.name, flags&os.O_APPEND != 0, flags&os.O_TRUNC != 0)
	if err := r.open(f, flags); err != nil {
		return err
	}
	return r.checkLength(f)
}

// openAndRead reads all of f through a handle of its own, read-only,
// while f's stays open.
func (r *fsxRun) openAndRead(f, _ *fsxFile) error {
	r.note(" %s", f.name)
	got, err := os.ReadFile(f.path)
	if err != nil {
		return err
	}
	return r.compare("read all of "+f.name+" by another handle", got, f.model)
}

// appendByAnother appends to f through a handle of its own, write-only
// and appending, kept open beside f's (a logger beside a writer), whose
// writes may be on their way still; one time in four it closes that
// handle instead.
func (r *fsxRun) appendByAnother(f, _ *fsxFile) error {
	if r.resets {
		r.note(" left out: the link is reset")
		return nil
	}
	if f.other != nil && r.rng.Intn(4) == 0 {
		r.note(" %s: close the other handle", f.name)
		err := f.other.Close()
		f.other = nil
		return err
	}
	n := min(1+r.rng.Intn(fsxMaxLen), fsxMaxSize-len(f.model))
	data := make([]byte, n)
	r.rng.Read(data)
	r.note(" %s %d at %d", f.name, n, len(f.model))
	if f.other == nil {
		h, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		f.other = h
	}
	if _, err := f.other.Write(data); err != nil {
		return err
	}
	f.put(len(f.model), data)
	return r.checkLength(f)
}

// copyOut copies a mapping of a file on the mount through system calls (a
// write to a memfd, then a read), so its page faults are taken in the
// kernel, inside a system call. Copied by Go code, a page that waits for
// sftpmount blocks a garbage collection's stop-the-world, which then halts
// every goroutine of the test binary: the toxiproxy link and whatever
// resets it included. sftpmount waits for them, the fault for sftpmount
// (the kernel retries a failed fault for good): a deadlock.
func copyOut(mapped []byte) ([]byte, error) {
	f, err := memfd()
	if err != nil {
		return nil, err
	}
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

// copyIn copies data into a mapping of a file on the mount through
// system calls, for the reason copyOut gives: data is written to a memfd,
// then read from it into the mapping.
func copyIn(mapped, data []byte) error {
	f, err := memfd()
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if n, err := unix.Pread(int(f.Fd()), mapped, 0); err != nil || n != len(mapped) {
		return fmt.Errorf("writing the mapping: %d bytes (%v), want %d", n, err, len(mapped))
	}
	return nil
}

func memfd() (*os.File, error) {
	fd, err := unix.MemfdCreate("fsx-mmap", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "fsx-mmap"), nil
}
