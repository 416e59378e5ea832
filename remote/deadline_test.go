package remote

import (
	"context"
	"errors"
	"testing"
	"time"
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

func TestInterruptedCallReportsCanceledAndKeepsTheConnection(t *testing.T) {
	s := pipeSession(t, silentServer)
	c := testClient(s, 10*time.Second, "/")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := c.Lstat(ctx, "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if s.isDead() {
		t.Error("an interrupt (^C) must not drop the connection everybody shares")
	}
}
