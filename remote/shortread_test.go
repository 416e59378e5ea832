package remote

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// stingyReader hands out at most 1000 bytes per read, like a server whose
// packet limit is below what the client asked for (pkg/sftp issue 658).
type stingyReader struct{ r io.ReaderAt }

func (s stingyReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > 1000 {
		p = p[:1000]
	}
	n, err := s.r.ReadAt(p, off)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

type stingyGet struct{ sftp.FileReader }

func (g stingyGet) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	ra, err := g.FileReader.Fileread(r)
	if err != nil {
		return nil, err
	}
	return stingyReader{ra}, nil
}

// handlersClient is a client of pkg/sftp's request server with handlers h.
func handlersClient(t *testing.T, h sftp.Handlers) *Client {
	serve := func(r io.Reader, w io.WriteCloser) {
		sftp.NewRequestServer(struct {
			io.Reader
			io.WriteCloser
		}{r, w}, h).Serve()
	}
	return testClient(pipeSession(t, serve), 10*time.Second, "/")
}

func TestShortServerRepliesAreAskedAgainNotTakenForEOF(t *testing.T) {
	h := sftp.InMemHandler()
	h.FileGet = stingyGet{h.FileGet}
	c := handlersClient(t, h)
	ctx := context.Background()
	want := make([]byte, 200_000)
	rand.New(rand.NewSource(2)).Read(want)
	f, err := c.OpenFile(ctx, "f", os.O_RDWR|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(ctx, want, 0); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 128*1024)
	n, err := f.ReadAt(ctx, got, 5000)
	if err != nil || n != len(got) {
		t.Fatalf("read of 128 KiB from a server sending 1000 bytes a reply: n=%d err=%v", n, err)
	}
	if !bytes.Equal(got, want[5000:5000+len(got)]) {
		t.Fatal("bytes differ")
	}
}

// countingGet counts the read requests the server answers.
type countingGet struct {
	sftp.FileReader
	reads *atomic.Int32
}

type countingReader struct {
	r     io.ReaderAt
	reads *atomic.Int32
}

func (c countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.r.ReadAt(p, off)
}

func (g countingGet) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	ra, err := g.FileReader.Fileread(r)
	if err != nil {
		return nil, err
	}
	return countingReader{ra, g.reads}, nil
}

// A small file read whole (the kernel asks for a page, or more) through a
// handle whose size is known costs one read request: the size says where
// it ends. Without a known size, the short answer is followed by another
// request, as pkg/sftp does, to learn the end.
func TestAReadPastTheKnownSizeAsksOnlyUpToIt(t *testing.T) {
	var reads atomic.Int32
	h := sftp.InMemHandler()
	h.FileGet = countingGet{h.FileGet, &reads}
	c := handlersClient(t, h)
	ctx := context.Background()
	w, err := c.OpenFile(ctx, "f", os.O_RDWR|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(ctx, []byte("a small file\n"), 0); err != nil {
		t.Fatal(err)
	}
	a, err := w.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Close(ctx)
	for _, size := range []int{4096, 128 << 10} {
		f, err := c.OpenFile(ctx, "f", os.O_RDONLY)
		if err != nil {
			t.Fatal(err)
		}
		f.Expect(a)
		reads.Store(0)
		p := make([]byte, size)
		n, err := f.ReadAt(ctx, p, 0)
		if n != 13 || err != io.EOF || string(p[:n]) != "a small file\n" {
			t.Fatalf("read of %d bytes: %d, %v, %q", size, n, err, p[:n])
		}
		if got := reads.Load(); got != 1 {
			t.Errorf("read of %d bytes of a 13-byte file of known size: %d read requests, want 1", size, got)
		}
		f.Close(ctx)
	}
}
