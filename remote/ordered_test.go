package remote

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// heldReplies passes the server's answers on until hold, then keeps them
// until release: a link whose answers are still on their way.
type heldReplies struct {
	io.WriteCloser
	mu      sync.Mutex
	held    bool
	release chan struct{}
}

func (h *heldReplies) Write(p []byte) (int, error) {
	h.mu.Lock()
	held := h.held
	h.mu.Unlock()
	if held {
		<-h.release
	}
	return h.WriteCloser.Write(p)
}

func (h *heldReplies) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = true
}

// A write of one packet or of several is known to have gone out while its
// answer is still on the way: a request made then reaches the server
// after it.
func TestAWriteIsKnownSentBeforeItIsAnswered(t *testing.T) {
	for _, size := range []int{2048, 100 << 10} {
		dir := t.TempDir()
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		replies := &heldReplies{WriteCloser: sw, release: make(chan struct{})}
		go realServer(t, dir)(sr, replies)
		watch := &sentWatch{WriteCloser: cw}
		sc, err := sftp.NewClientPipe(cr, watch, sftpOptions...)
		if err != nil {
			t.Fatal(err)
		}
		s := &session{conn: closerFunc(func() error { cr.Close(); cw.Close(); sr.Close(); sw.Close(); return nil }), sftp: sc, sent: watch, dead: make(chan struct{})}
		t.Cleanup(func() { s.close(ErrConnectionLost) })
		c := testClient(s, 10*time.Second, dir)
		f, err := c.OpenFile(context.Background(), "f", os.O_WRONLY|os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		data := randomBytes(t, size)
		replies.hold()
		sent, answered := make(chan struct{}), make(chan error, 1)
		go func() {
			_, err := f.WriteAtThen(context.Background(), data, 0, func() { close(sent) })
			answered <- err
		}()
		select {
		case <-sent:
		case err := <-answered:
			t.Fatalf("%d bytes: the write was answered (%v) before it was known sent, with the answers held", size, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("%d bytes: the write was never known sent", size)
		}
		close(replies.release)
		if err := <-answered; err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "f")); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: the server has %d bytes, not the ones written", size, len(got))
		}
		if n := watch.n.Load(); n != 0 {
			t.Fatalf("%d packets still watched after the write", n)
		}
	}
}

// Without a watch (a server that may reorder), sent comes with the answer.
func TestWithoutAWatchSentComesWithTheAnswer(t *testing.T) {
	dir := t.TempDir()
	c := testClient(pipeSession(t, realServer(t, dir)), 10*time.Second, dir)
	f, err := c.OpenFile(context.Background(), "f", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	if _, err := f.WriteAtThen(context.Background(), []byte("data"), 0, func() { sent = true }); err != nil || !sent {
		t.Fatalf("write: %v, sent called: %v", err, sent)
	}
}

func TestOnlyOpenSSHIsTrustedToRunRequestsInOrder(t *testing.T) {
	for v, want := range map[string]bool{
		"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3": true,
		"SSH-2.0-OpenSSH_for_Windows_8.1":        true,
		"SSH-2.0-Go":                             false,
		"SSH-2.0-dropbear_2022.83":               false,
	} {
		if inOrder(v) != want {
			t.Errorf("%q: in order %v, want %v", v, !want, want)
		}
	}
}

// heldRequests takes every request the client sends at once, as a socket
// buffer would, and hands it to the server unless held: a server busy
// with something else, or descheduled, on one channel only.
type heldRequests struct {
	held    atomic.Bool
	release chan struct{}
}

// relay passes what the client writes into from on to the server's
// input to, in order, keeping it back while held.
func (h *heldRequests) relay(from io.Reader, to io.WriteCloser) {
	chunks := make(chan []byte, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := from.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	for p := range chunks {
		if h.held.Load() {
			<-h.release
		}
		if _, err := to.Write(p); err != nil {
			break
		}
	}
	to.Close()
}

// opensshSession is a session on OpenSSH's sftp-server serving dir, as
// over SSH: its requests go through a sentWatch (it runs them in order),
// each further channel (the wire layer's) starts an sftp-server of its
// own, as sshd does, and hold keeps the first channel's requests back.
func opensshSession(t *testing.T, dir string, hold *heldRequests) *session {
	t.Helper()
	sr, sw := opensshPipes(t, dir)
	cr, cw := io.Pipe()
	go hold.relay(cr, sw)
	watch := &sentWatch{WriteCloser: cw}
	sc, err := sftp.NewClientPipe(sr, watch, sftpOptions...)
	if err != nil {
		t.Fatal(err)
	}
	more := func(context.Context) (io.ReadWriteCloser, error) {
		r, w := opensshPipes(t, dir)
		return struct {
			io.Reader
			io.WriteCloser
		}{r, w}, nil
	}
	s := &session{conn: closerFunc(func() error { cw.Close(); cr.Close(); return nil }), sftp: sc, sent: watch, more: more, dead: make(chan struct{})}
	t.Cleanup(func() { s.close(ErrConnectionLost) })
	return s
}

// A file reopened after a lost connection sets its times by path
// (lsetstat@openssh.com, setattr.go), on the wire layer's channel: in no
// order with the writes on the file's handle. Times set once a write is
// known sent (WriteAtThen's sent, as a new file's held changes are:
// fs/held.go) must still land after it, or the write moves the mtime on
// (a tar extract's mtime then differs from the archive's).
func TestTimesSetByPathAfterAReopenLandAfterAWriteKnownSent(t *testing.T) {
	dir := t.TempDir()
	hold := &heldRequests{release: make(chan struct{})}
	c := testClient(pipeSession(t, realServer(t, dir)), 10*time.Second, dir)
	c.cfg.Reconnect = true
	c.dialFn = func(context.Context) (*session, error) { return opensshSession(t, dir, hold), nil }
	ctx := context.Background()
	f, err := c.OpenFile(ctx, "f", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	// The link is lost: the next write reopens the file on a new
	// connection, by path.
	c.cur.close(ErrConnectionLost)
	if _, err := f.WriteAt(ctx, []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	reopened := f.byPath
	f.mu.Unlock()
	if !reopened {
		t.Fatal("the write did not reopen the file")
	}

	// The server's first channel is busy: the next write reaches it
	// only once released.
	hold.held.Store(true)
	sent, wrote := make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := f.WriteAtThen(ctx, randomBytes(t, 4096), 1, func() { close(sent) })
		wrote <- err
	}()
	select {
	case <-sent:
	case err := <-wrote:
		t.Fatalf("the write was answered (%v) while held", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the write was never known sent")
	}
	mtime := time.Unix(1000000000, 0)
	timed := make(chan error, 1)
	go func() { timed <- f.Chtimes(ctx, Attr{Atime: mtime, Mtime: mtime}) }()
	select {
	case err := <-timed:
		timed <- err
	case <-time.After(time.Second):
	}
	close(hold.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-timed; err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) || fi.Size() != 4097 {
		t.Fatalf("the server's file: mtime %v, %d bytes; want mtime %v (set after the write), 4097 bytes", fi.ModTime(), fi.Size(), mtime)
	}
}
