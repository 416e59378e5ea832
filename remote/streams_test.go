package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// pipeStream is a Stream to serve over in-memory pipes, a new pair each
// time it is opened.
func pipeStream(serve func(io.Reader, io.WriteCloser)) Stream {
	return func(context.Context) (io.ReadWriteCloser, error) {
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		go serve(sr, sw)
		return readWriteCloser{cr, cw}, nil
	}
}

// passive's stream is had once: the mount works on it, and a reconnect
// (or a second channel) is refused with a reason, not a hang.
func TestOnceStreamServesOnceAndRefusesAgain(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	first, _ := pipeStream(realServer(t, dir))(context.Background())
	open := OnceStream(first, first)
	c, err := ConnectStream(context.Background(), Config{Dir: dir, Timeout: 5 * time.Second, Reconnect: true}, open)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Lstat(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := open(context.Background()); !errors.Is(err, errStreamUsed) {
		t.Fatalf("a second open: %v", err)
	}
	// No second channel: mkdir goes through pkg/sftp's session.
	if a, err := c.MkdirAttr(context.Background(), "d", 0o755); err != nil || !a.Mode.IsDir() {
		t.Fatalf("mkdir without a second channel: %v %v", a, err)
	}
}

// A stream gone silent is found dead by the SFTP keepalive and the next
// call opens a new one.
func TestStreamKeepaliveClosesASilentSessionAndTheNextCallReopens(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	var opens atomic.Int32 // the dials and the wire layer's channels
	real := pipeStream(realServer(t, dir))
	silent := pipeStream(silentServer)
	open := func(ctx context.Context) (io.ReadWriteCloser, error) {
		if opens.Add(1) == 2 { // the session after the first: it goes silent
			return silent(ctx)
		}
		return real(ctx)
	}
	ep := &sshconf.Endpoint{ConnectTimeout: 2 * time.Second, KeepaliveInterval: 50 * time.Millisecond, KeepaliveCountMax: 2}
	c, err := ConnectStream(context.Background(), Config{Target: ep, Dir: dir, Timeout: 60 * time.Second, Reconnect: true}, open)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first session ends; the second, silent, is found dead by the
	// keepalive before any call waits on it.
	c.mu.Lock()
	c.cur.close(ErrConnectionLost)
	c.mu.Unlock()
	if _, err := c.session(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if _, err := c.Lstat(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	// Without the keepalive it would wait out its 60 s deadline on the
	// silent session, and fail.
	if took := time.Since(start); took > 30*time.Second || opens.Load() < 3 {
		t.Fatalf("the call took %v after %d opens; want the silent session closed by the keepalive and another opened", took, opens.Load())
	}
}

// A command that ends before speaking SFTP is named with how it ended.
func TestACommandThatEndsSaysHowInTheError(t *testing.T) {
	open := CommandStream([]string{"sh", "-c", "echo 'ssh: connect to host x port 22: Connection refused' >&2; exit 255"},
		func() bool { return false }, nil)
	_, err := ConnectStream(context.Background(), Config{Timeout: 5 * time.Second}, open)
	if err == nil || !strings.Contains(err.Error(), "exited with status 255: ssh: connect to host x port 22: Connection refused") {
		t.Fatalf("got %v", err)
	}
}
