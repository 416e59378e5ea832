package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
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
