package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
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
