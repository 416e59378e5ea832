package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// bulkSession is a pipe session on dir with n bulk sessions, each its own
// pkg/sftp server on the same directory, as sshd runs one sftp-server per
// session.
func bulkSession(t *testing.T, dir string, n int) (*Client, *session) {
	t.Helper()
	s := pipeSession(t, realServer(t, dir))
	s.bulk = make([]atomic.Pointer[sftp.Client], n)
	for i := range n {
		s.bulk[i].Store(pipeSession(t, realServer(t, dir)).sftp)
	}
	return testClient(s, 10*time.Second, dir), s
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// readAll reads f in read-ahead-sized pieces from the start.
func readAll(t *testing.T, f *File, size int) []byte {
	t.Helper()
	out := make([]byte, size)
	for off := 0; off < size; off += bulkStripe {
		end := min(off+bulkStripe, size)
		if n, err := f.ReadAt(context.Background(), out[off:end], int64(off)); err != nil && err != io.EOF || n != end-off {
			t.Fatalf("read at %d: %d bytes, %v", off, n, err)
		}
	}
	return out
}

func bulkHandlesOpen(f *File) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, b := range f.bulk {
		if b != nil && b.h != nil {
			n++
		}
	}
	return n
}

func TestALargeFileIsReadThroughEverySessionWithTheSameBytes(t *testing.T) {
	dir := t.TempDir()
	want := randomBytes(t, 8<<20)
	os.WriteFile(filepath.Join(dir, "big"), want, 0644)
	c, _ := bulkSession(t, dir, 3)
	ctx := context.Background()
	a, err := c.Lstat(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenFile(ctx, "big", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	f.Expect(a)
	if got := readAll(t, f, len(want)); !bytes.Equal(got, want) {
		t.Fatal("bytes read through several sessions differ from the file")
	}
	if n := bulkHandlesOpen(f); n != 3 {
		t.Fatalf("%d bulk sessions had the file open, want 3", n)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestALargeFileWrittenThroughEverySessionHasEveryByte(t *testing.T) {
	dir := t.TempDir()
	want := randomBytes(t, 8<<20)
	c, _ := bulkSession(t, dir, 3)
	ctx := context.Background()
	f, err := c.OpenFile(ctx, "out", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(want); off += 128 << 10 {
		if _, err := f.WriteAt(ctx, want[off:off+128<<10], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if n := bulkHandlesOpen(f); n != 3 {
		t.Fatalf("%d bulk sessions had the file open, want 3", n)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	if !bytes.Equal(got, want) {
		t.Fatalf("server has %d bytes, not the %d written", len(got), len(want))
	}
}

// Another file now has the name: reading on must still give the bytes of
// the file that was opened, never a mix of two files.
func TestAFileWhoseNameWasTakenKeepsItsOwnBytes(t *testing.T) {
	for name, replace := range map[string]func(t *testing.T, c *Client, dir string){
		// The open file is sub/big throughout.
		"renamed through the mount": func(t *testing.T, c *Client, dir string) {
			if err := c.Rename(context.Background(), "sub/big", "sub/old"); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "sub", "big"), randomBytes(t, 4<<20), 0644) // same size
		},
		"its directory renamed through the mount": func(t *testing.T, c *Client, dir string) {
			if err := c.Rename(context.Background(), "sub", "old"); err != nil {
				t.Fatal(err)
			}
			os.Mkdir(filepath.Join(dir, "sub"), 0755)
			os.WriteFile(filepath.Join(dir, "sub", "big"), randomBytes(t, 4<<20), 0644) // same size
		},
		"replaced behind the mount's back": func(t *testing.T, c *Client, dir string) {
			os.WriteFile(filepath.Join(dir, "new"), randomBytes(t, 5<<20), 0644)
			os.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "sub", "big"))
		},
	} {
		for _, known := range []bool{true, false} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				want := randomBytes(t, 4<<20)
				os.Mkdir(filepath.Join(dir, "sub"), 0755)
				os.WriteFile(filepath.Join(dir, "sub", "big"), want, 0644)
				c, _ := bulkSession(t, dir, 2)
				ctx := context.Background()
				a, _ := c.Lstat(ctx, "sub/big")
				f, err := c.OpenFile(ctx, "sub/big", os.O_RDONLY)
				if err != nil {
					t.Fatal(err)
				}
				replace(t, c, dir)
				if known { // else checked against an fstat of the open handle
					f.Expect(a) // what was known before the open
				}
				if got := readAll(t, f, len(want)); !bytes.Equal(got, want) {
					t.Fatal("read bytes of another file after its name was taken")
				}
				if n := bulkHandlesOpen(f); n != 0 {
					t.Fatalf("%d bulk sessions opened the name's new file", n)
				}
				f.Close(ctx)
			})
		}
	}
}

// The bulk sessions are extra: with none, or with the handle opened for
// appending (the server appends in arrival order), all goes through one.
func TestAppendsAndSingleSessionMountsUseTheFilesOwnHandle(t *testing.T) {
	dir := t.TempDir()
	c, _ := bulkSession(t, dir, 2)
	ctx := context.Background()
	f, err := c.OpenFile(ctx, "log", os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		t.Fatal(err)
	}
	chunk := randomBytes(t, 1<<20)
	for i := range 4 {
		if _, err := f.WriteAt(ctx, chunk, int64(i)<<20); err != nil {
			t.Fatal(err)
		}
	}
	if n := bulkHandlesOpen(f); n != 0 {
		t.Fatalf("an append handle used %d bulk sessions", n)
	}
	f.Close(ctx)
	if fi, _ := os.Stat(filepath.Join(dir, "log")); fi.Size() != 4<<20 {
		t.Fatalf("log has %d bytes", fi.Size())
	}
}

// openSpy passes a session's requests to its server and closes opened at
// the first SSH_FXP_OPEN among them.
func openSpy(r io.Reader, opened chan struct{}) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		var once sync.Once
		for {
			var hdr [5]byte
			if _, err := io.ReadFull(pr, hdr[:]); err != nil {
				io.Copy(io.Discard, pr)
				return
			}
			if hdr[4] == 3 { // SSH_FXP_OPEN
				once.Do(func() { close(opened) })
			}
			io.CopyN(io.Discard, pr, int64(binary.BigEndian.Uint32(hdr[:4]))-1)
		}
	}()
	return io.TeeReader(r, pw)
}

// A large file is opened on the bulk sessions while its own open is still
// on the way, and once both are known to be the listed file its data
// comes through all of them.
func TestALargeFileIsOpenedOnEverySessionInTheRoundTripOfItsOwnOpen(t *testing.T) {
	dir := t.TempDir()
	want := randomBytes(t, 8<<20)
	os.WriteFile(filepath.Join(dir, "big"), want, 0644)
	held := &heldReplies{release: make(chan struct{})}
	s := pipeSession(t, func(r io.Reader, w io.WriteCloser) {
		held.WriteCloser = w
		realServer(t, dir)(r, held)
	})
	opened := make(chan struct{})
	s.bulk = make([]atomic.Pointer[sftp.Client], 3)
	for i := range s.bulk {
		spied := opened
		if i > 0 {
			spied = make(chan struct{})
		}
		s.bulk[i].Store(pipeSession(t, func(r io.Reader, w io.WriteCloser) { realServer(t, dir)(openSpy(r, spied), w) }).sftp)
	}
	c := testClient(s, 10*time.Second, dir)
	ctx := context.Background()
	a, err := c.Lstat(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	held.hold() // the file's own session answers nothing for now
	type result struct {
		f   *File
		err error
	}
	done := make(chan result, 1)
	go func() { f, err := c.OpenKnown(ctx, "big", os.O_RDONLY, a); done <- result{f, err} }()
	select {
	case <-opened:
	case <-time.After(5 * time.Second):
		t.Error("no bulk session was asked to open the file before its own open was answered")
	}
	close(held.release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := readAll(t, r.f, len(want)); !bytes.Equal(got, want) {
		t.Fatal("bytes read through several sessions differ from the file")
	}
	if n := bulkHandlesOpen(r.f); n != 3 {
		t.Fatalf("%d bulk sessions had the file open, want 3", n)
	}
	if err := r.f.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// Opened side by side, the bulk sessions may get the listed file and the
// file's own session another that took its name in between: then no byte
// comes from the bulk sessions.
func TestAFileReplacedBetweenItsOpensIsReadFromItsOwnHandleOnly(t *testing.T) {
	listed, replaced := t.TempDir(), t.TempDir()
	old := randomBytes(t, 4<<20)
	os.WriteFile(filepath.Join(listed, "big"), old, 0644)
	want := randomBytes(t, 4<<20) // same size, another mtime
	os.WriteFile(filepath.Join(replaced, "big"), want, 0644)
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(replaced, "big"), later, later)

	s := pipeSession(t, realServer(t, replaced))
	s.bulk = make([]atomic.Pointer[sftp.Client], 2)
	for i := range s.bulk {
		s.bulk[i].Store(pipeSession(t, realServer(t, listed)).sftp)
	}
	// Relative paths: each server finds "big" in its own directory.
	c := testClient(s, 10*time.Second, ".")
	a, err := testClient(pipeSession(t, realServer(t, listed)), 10*time.Second, ".").Lstat(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenKnown(context.Background(), "big", os.O_RDONLY, a)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f, len(want)); !bytes.Equal(got, want) {
		t.Fatal("read bytes of the listed file, not of the file opened")
	}
	if n := bulkHandlesOpen(f); n != 0 {
		t.Fatalf("%d bulk sessions served the listed file", n)
	}
	f.Close(context.Background())
}
