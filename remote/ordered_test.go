package remote

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
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
