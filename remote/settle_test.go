package remote

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A write cut off by a lost connection is sent again on the new one only
// once the old session has settled: the old server may still run what it
// had received, and a newer write over the same bytes must not land
// before it.
func TestAWriteCutOffByALostConnectionIsSentAgainOnlyOnceTheOldSessionSettled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0644); err != nil {
		t.Fatal(err)
	}
	var stalled atomic.Bool
	serve := realServer(t, dir)
	first := pipeSession(t, func(r io.Reader, w io.WriteCloser) { serve(stallReader{r, &stalled}, w) })
	c := testClient(first, 10*time.Second, dir)
	c.cfg.Reconnect = true
	c.dialFn = func(context.Context) (*session, error) { return pipeSession(t, realServer(t, dir)), nil }
	ctx := context.Background()
	f, err := c.OpenFile(ctx, "f", os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	// The server stops reading; the connection is given up 50 ms into
	// the write.
	stalled.Store(true)
	time.AfterFunc(50*time.Millisecond, func() { first.close(ErrConnectionLost) })

	n, err := f.WriteAt(ctx, []byte("abc"), 2)
	done := time.Now()
	if err != nil || n != 3 {
		t.Fatalf("write after the reconnect: n=%d err=%v", n, err)
	}
	lost := time.Unix(0, first.lostAt.Load())
	if waited := done.Sub(lost); waited < settleTime {
		t.Fatalf("the write was sent again %v after the loss, before the old session settled (%v)", waited, settleTime)
	}
	if f.Rewrites() != 1 {
		t.Fatalf("Rewrites = %d, want 1", f.Rewrites())
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, []byte("01abc56789")) {
		t.Fatalf("the server's file holds %q", got)
	}
	// A read cut off the same way does not wait.
	stalled.Store(false)
	second := pipeSession(t, func(r io.Reader, w io.WriteCloser) { serve(stallReader{r, &stalled}, w) })
	c.mu.Lock()
	c.cur = second
	c.mu.Unlock()
	f2, err := c.OpenFile(ctx, "f", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	stalled.Store(true)
	time.AfterFunc(50*time.Millisecond, func() { second.close(ErrConnectionLost) })
	f = f2
	buf := make([]byte, 10)
	start := time.Now()
	if n, err := f.ReadAt(ctx, buf, 0); n != 10 || string(buf) != "01abc56789" {
		t.Fatalf("read after the reconnect: %q %v", buf[:n], err)
	}
	if took := time.Since(start); took > settleTime {
		t.Fatalf("a read cut off by a lost connection took %v: it waited to settle", took)
	}
}

// stallReader reads from r until stalled is set, then blocks until the
// pipe under it is closed.
type stallReader struct {
	r       io.Reader
	stalled *atomic.Bool
}

func (s stallReader) Read(p []byte) (int, error) {
	for s.stalled.Load() {
		time.Sleep(5 * time.Millisecond)
		if _, err := s.r.Read(nil); err != nil {
			return 0, err
		}
	}
	return s.r.Read(p)
}
