package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
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

// A create cut off by a link gone silent (nothing answered, nothing
// refused) is settled on a new connection within its deadline: the link
// is probed a third of the way in and given up by two thirds, so a third
// is left for the reconnect and the settling. It failed at its deadline,
// having spent all of it waiting (the soak's create with EIO after 10 s).
func TestACreateOnASilentLinkIsSettledOnANewConnectionWithinItsDeadline(t *testing.T) {
	dir := t.TempDir()
	var stalled atomic.Bool
	serve := realServer(t, dir)
	first := pipeSession(t, func(r io.Reader, w io.WriteCloser) { serve(stallReader{r, &stalled}, w) })
	first.alive = func() error { <-first.dead; return ErrConnectionLost } // no keepalive answered either
	const timeout = 3 * time.Second
	c := testClient(first, timeout, dir)
	c.cfg.Reconnect = true
	c.dialFn = func(context.Context) (*session, error) { return pipeSession(t, realServer(t, dir)), nil }

	stalled.Store(true)
	start := time.Now()
	f, err := c.OpenFile(context.Background(), "new", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("create on a silent link: %v after %v", err, took.Round(time.Millisecond))
	}
	defer f.Close(context.Background())
	if took > timeout+time.Second {
		t.Errorf("the create took %v, its deadline is %v", took.Round(time.Millisecond), timeout)
	}
	if !first.isDead() || c.Stats().Reconnects != 1 {
		t.Fatalf("the silent session was not given up for a new one: dead %v, reconnects %d", first.isDead(), c.Stats().Reconnects)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
}

// Slow is not dead: a call whose server answers late, on a link that
// still answers keepalives, waits for its answer and keeps the session.
func TestACallOnASlowServerWhoseLinkAnswersIsNotGivenUp(t *testing.T) {
	dir := t.TempDir()
	var stalled atomic.Bool
	serve := realServer(t, dir)
	s := pipeSession(t, func(r io.Reader, w io.WriteCloser) { serve(stallReader{r, &stalled}, w) })
	var probes atomic.Int32
	s.alive = func() error { probes.Add(1); return nil }
	c := testClient(s, 3*time.Second, dir)
	stalled.Store(true)
	time.AfterFunc(2*time.Second, func() { stalled.Store(false) }) // past the probe, before the deadline
	if err := c.Mkdir(context.Background(), "d", 0755); err != nil {
		t.Fatalf("mkdir on a slow server: %v", err)
	}
	if s.isDead() || probes.Load() != 1 {
		t.Fatalf("session dead %v after %d probes, want alive after 1", s.isDead(), probes.Load())
	}
}

// A probe whose keepalive goes unanswered gives the session up, unless a
// call's answer came meanwhile: a keepalive's answer can queue behind
// megabytes of read data on a slow link, which is busy, not silent.
func TestAProbeGivesUpOnlyALinkThatCarriesNoAnswers(t *testing.T) {
	for _, busy := range []bool{false, true} {
		s := pipeSession(t, silentServer)
		s.alive = func() error { <-s.dead; return ErrConnectionLost }
		s.probe(300 * time.Millisecond)
		if busy {
			time.Sleep(100 * time.Millisecond)
			s.answered.Store(time.Now().UnixNano())
		}
		time.Sleep(time.Second)
		if s.isDead() == busy {
			t.Errorf("answers meanwhile %v: session dead %v", busy, s.isDead())
		}
	}
}
