package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	stdlog "log"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadAtFillsTheWholeBufferAndReportsEOFOnlyAtTheEnd(t *testing.T) {
	dir := t.TempDir()
	want := make([]byte, 300_000)
	rand.New(rand.NewSource(1)).Read(want)
	if err := os.WriteFile(filepath.Join(dir, "f"), want, 0644); err != nil {
		t.Fatal(err)
	}
	c := testClient(pipeSession(t, realServer(t, dir)), 10*time.Second, dir)
	f, err := c.OpenFile(context.Background(), "f", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(context.Background())

	buf := make([]byte, 128*1024)
	n, err := f.ReadAt(context.Background(), buf, 1000)
	if err != nil || n != len(buf) || !bytes.Equal(buf, want[1000:1000+len(buf)]) {
		t.Fatalf("middle read: n=%d err=%v", n, err)
	}
	n, err = f.ReadAt(context.Background(), buf, int64(len(want)-100))
	if !errors.Is(err, io.EOF) || n != 100 || !bytes.Equal(buf[:n], want[len(want)-100:]) {
		t.Fatalf("read across EOF: n=%d err=%v", n, err)
	}
	n, err = f.ReadAt(context.Background(), buf, int64(len(want)+5))
	if !errors.Is(err, io.EOF) || n != 0 {
		t.Fatalf("read past EOF: n=%d err=%v", n, err)
	}
}

func TestCreateWriteTruncateStatReachTheFile(t *testing.T) {
	dir := t.TempDir()
	c := testClient(pipeSession(t, realServer(t, dir)), 10*time.Second, dir)
	ctx := context.Background()
	f, created, err := c.CreateFile(ctx, "new", os.O_RDWR|os.O_EXCL, 0600)
	if err != nil {
		t.Fatal(err)
	}
	if created.Mode.Perm() != 0600 || created.Size != 0 || !created.Mode.IsRegular() {
		t.Fatalf("attributes of the created file: %+v", created)
	}
	if n, err := f.WriteAt(ctx, []byte("hello world"), 0); err != nil || n != 11 {
		t.Fatalf("write: %d %v", n, err)
	}
	if err := f.Truncate(ctx, 5); err != nil {
		t.Fatal(err)
	}
	a, err := f.Stat(ctx)
	if err != nil || a.Size != 5 || a.Mode.Perm() != 0600 {
		t.Fatalf("stat: %+v %v", a, err)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "new"))
	if string(got) != "hello" {
		t.Fatalf("file holds %q", got)
	}
	if _, err := c.OpenFile(ctx, "new", os.O_RDWR|os.O_CREATE|os.O_EXCL); err == nil {
		t.Fatal("O_EXCL on an existing file succeeded")
	}
}

// countingLogger collects the client's debug lines.
type countingLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *countingLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *countingLogger) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range strings.Split(l.buf.String(), "\n") {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// OpenLater opens nothing until a read needs the handle; closed unread,
// it never reaches the server. Read, it reads the file as it now is, and
// tells of a change since it was known.
func TestOpenLaterOpensOnlyWhenARead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("old"), 0644); err != nil {
		t.Fatal(err)
	}
	log := &countingLogger{}
	c := testClient(pipeSession(t, realServer(t, dir)), 10*time.Second, dir)
	c.cfg.Debug = stdlog.New(log, "", 0)
	ctx := context.Background()
	known, err := c.Lstat(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	f, ok := c.OpenLater("f", known, func(Attr) { t.Error("the unchanged file was reported changed") })
	if !ok {
		t.Fatal("a small file is not opened later")
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := log.count("  sftp open"); n != 0 {
		t.Fatalf("%d opens sent for a file closed unread", n)
	}

	f, _ = c.OpenLater("f", known, func(Attr) { t.Error("the unchanged file was reported changed") })
	buf := make([]byte, 10)
	if n, err := f.ReadAt(ctx, buf, 0); string(buf[:n]) != "old" || !errors.Is(err, io.EOF) {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	f.Close(ctx)
	if n := log.count("  sftp open"); n != 1 {
		t.Fatalf("%d opens sent for one read", n)
	}

	// Changed on the server since it was known: read as it now is.
	if err := os.WriteFile(p, []byte("newer"), 0644); err != nil {
		t.Fatal(err)
	}
	var heard []Attr
	f, _ = c.OpenLater("f", known, func(a Attr) { heard = append(heard, a) })
	if n, err := f.ReadAt(ctx, buf, 0); string(buf[:n]) != "newer" || !errors.Is(err, io.EOF) {
		t.Fatalf("read %q, %v after the change", buf[:n], err)
	}
	if len(heard) != 1 || heard[0].Size != 5 {
		t.Fatalf("the change was told as %+v, want one with size 5", heard)
	}
	f.Close(ctx)

	// Renamed through this client before its first read: its path names
	// another file now.
	f, _ = c.OpenLater("f", known, nil)
	if err := c.Rename(ctx, "f", "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(ctx, buf, 0); !errors.Is(err, ErrStale) {
		t.Fatalf("read after a rename: %v, want ErrStale", err)
	}
	f.Close(ctx)

	if _, ok := c.OpenLater("big", Attr{Size: bulkFrom + 1}, nil); ok {
		t.Fatal("a file for the bulk sessions was opened later")
	}
}
