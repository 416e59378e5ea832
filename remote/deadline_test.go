package remote

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

func TestCallToASilentServerFailsAtItsDeadlineAndDropsTheConnection(t *testing.T) {
	s := pipeSession(t, silentServer)
	c := testClient(s, 300*time.Millisecond, "/")
	start := time.Now()
	_, err := c.Lstat(context.Background(), "x")
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	var op *OpError
	if !errors.As(err, &op) || op.Op != "lstat" || op.Path != "/x" {
		t.Errorf("error does not say what failed where: %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("call took %v with a 300ms deadline", took)
	}
	if !s.isDead() {
		t.Error("session still in use after a call overran its deadline")
	}
}

func TestCallsOnADeadSessionFailAtOnce(t *testing.T) {
	s := pipeSession(t, silentServer)
	s.close(ErrConnectionLost)
	start := time.Now()
	err := runOn(context.Background(), s, "stat", "/y", nil)
	if !errors.Is(err, ErrConnectionLost) || time.Since(start) > time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
}

func TestInterruptedCallStillGetsTheServersAnswer(t *testing.T) {
	dir := t.TempDir()
	s := pipeSession(t, realServer(t, dir))
	c := testClient(s, 10*time.Second, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the kernel interrupted the request before it even started
	if err := c.Mkdir(ctx, "d", 0755); err != nil {
		t.Fatalf("mkdir under an interrupted context: %v", err)
	}
	if a, err := c.Lstat(context.Background(), "d"); err != nil || !a.Mode.IsDir() {
		t.Fatalf("d on the server: %+v %v", a, err)
	}
	if s.isDead() {
		t.Error("an interrupt must not drop the connection everybody shares")
	}
}

// A call whose session dies under it is waited for before runOn returns:
// it writes into its caller's memory (a read's buffer), and a caller that
// tries again must not have the first call's late copy land over the
// second's. It was abandoned at once: the race detector saw a read cut off
// by a reset and its retry both writing the count and the buffer.
func TestACallCutOffByALostConnectionHasReturnedBeforeItsCallerGoesOn(t *testing.T) {
	s := pipeSession(t, silentServer)
	var wrote atomic.Bool
	release := make(chan struct{})
	time.AfterFunc(50*time.Millisecond, func() { s.close(ErrConnectionLost) })
	go func() { <-s.dead; time.Sleep(100 * time.Millisecond); close(release) }()
	err := runOn(context.Background(), s, "read", "/f", func(*sftp.Client) error {
		<-release // pkg/sftp fails the request once the transport is closed
		wrote.Store(true)
		return errors.New("connection closed")
	})
	if !wrote.Load() {
		t.Fatal("runOn returned while the call it ran could still write into its caller's memory")
	}
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("got %v, want ErrConnectionLost (to be tried again)", err)
	}
}

// A listing's deadline runs from its last batch, and stops while the
// caller works on a batch: a long listing that keeps coming is not cut
// off, a silent one is, and a reader that pauses is not taken for a
// silent server.
func TestAListingsDeadlineRunsFromItsLastBatch(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ctx, cancel := progressContext(context.Background(), timeout)
	defer cancel()
	for i := 0; i < 6; i++ { // 300 ms in all, a batch every 50 ms
		time.Sleep(timeout / 2)
		progressed(ctx)()
	}
	resume := progressed(ctx)
	time.Sleep(3 * timeout) // the caller works on a batch
	if ctx.Err() != nil {
		t.Fatalf("ended while batches kept coming or the caller worked: %v", ctx.Err())
	}
	resume()
	select {
	case <-ctx.Done():
	case <-time.After(3 * timeout):
		t.Fatal("a listing silent for three timeouts did not end")
	}
	if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		t.Fatalf("ended with %v, want the deadline", context.Cause(ctx))
	}
}
