package remote

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"os"
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

func TestShortServerRepliesAreAskedAgainNotTakenForEOF(t *testing.T) {
	h := sftp.InMemHandler()
	h.FileGet = stingyGet{h.FileGet}
	serve := func(r io.Reader, w io.WriteCloser) {
		sftp.NewRequestServer(struct {
			io.Reader
			io.WriteCloser
		}{r, w}, h).Serve()
	}
	c := testClient(pipeSession(t, serve), 10*time.Second, "/")
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
