package cache

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// WriteBehind lets a write return before the server has it, with at most
// Limit bytes in flight, so that one file's writes fill the link instead
// of waiting one round trip each. Nothing is lost quietly: the first
// error is kept and returned by every later Write and Flush, and Flush
// (called at close and fsync) returns only once everything sent has been
// answered.
//
// Writes to overlapping ranges are never in flight together, so a later
// write of the same bytes cannot be overtaken by an earlier one.
//
// Queued copies are paid for from a budget shared with every handle of the
// mount (and with read-ahead). A write that finds the budget spent while
// this handle has nothing in flight is sent at once and waited for: it
// needs no copy, so it costs no memory, and it cannot wait on memory that
// another handle holds for as long as it likes (a reader that stopped
// reading keeps its read-ahead until it closes).
type WriteBehind struct {
	send   Sender
	limit  int64
	budget *Budget // nil: unbounded

	// Unbuffered, when set, runs (without the lock) before a write is
	// sent on its caller's own goroutine because the budget is spent:
	// whatever that send would wait for must be let go now, since the
	// caller, blocked in the send, cannot let it go later.
	Unbuffered func()
	// MaxWait, when set, bounds every wait of a caller (for room, for
	// an overlapping write, for writes to be sent or answered): past
	// it the caller gets an error wrapping context.DeadlineExceeded.
	// The sends have deadlines of their own; this one is for what
	// would otherwise wait on them without one.
	MaxWait time.Duration

	mu       sync.Mutex // guards everything below
	cond     *sync.Cond
	inflight int64
	ranges   map[*span]struct{}
	err      error
}

// Sender writes p at off on the server. It calls sent once a request made
// after it would reach the server after the write (at the latest when it
// returns); see WaitSent.
type Sender func(p []byte, off int64, sent func()) error

type span struct {
	off, end int64
	sent     bool
}

func (s *span) overlaps(off, end int64) bool { return off < s.end && s.off < end }

// NewWriteBehind returns a WriteBehind that sends with send and keeps at
// most limit bytes in flight (one write larger than limit goes alone),
// paid for from budget.
func NewWriteBehind(send Sender, limit int64, budget *Budget) *WriteBehind {
	w := &WriteBehind{send: send, limit: limit, budget: budget, ranges: map[*span]struct{}{}}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// Write queues a copy of p for offset off and returns at once, or the
// error an earlier write met.
func (w *WriteBehind) Write(p []byte, off int64) error {
	end := off + int64(len(p))
	size := int64(len(p))
	deadline := w.deadline()
	w.mu.Lock()
	for {
		for w.err == nil && (w.overlapsLocked(off, end) || (w.inflight > 0 && w.inflight+size > w.limit)) {
			if err := w.waitLocked(deadline, "room for a write"); err != nil {
				w.mu.Unlock()
				return err
			}
		}
		if w.err != nil {
			err := w.err
			w.mu.Unlock()
			return err
		}
		if w.budget.TryTake(size) {
			break
		}
		if w.inflight == 0 {
			// Nothing of ours to wait for: send this one and wait.
			// Registered before the lock goes, like any other write, so
			// that an overlapping one cannot pass it.
			s := w.startLocked(off, end)
			w.mu.Unlock()
			if w.Unbuffered != nil {
				w.Unbuffered()
			}
			err := w.send(p, off, func() { w.markSent(s) })
			w.landed(s, err)
			return err
		}
		// One of ours landing gives memory back.
		if err := w.waitLocked(deadline, "memory for a write"); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	s := w.startLocked(off, end)
	w.mu.Unlock()

	buf := append([]byte(nil), p...) // the caller reuses p once we return
	go func() {
		err := w.send(buf, off, func() { w.markSent(s) })
		w.budget.Give(size)
		w.landed(s, err)
	}()
	return nil
}

// startLocked records a write of [off, end) as in flight.
func (w *WriteBehind) startLocked(off, end int64) *span {
	s := &span{off: off, end: end}
	w.ranges[s] = struct{}{}
	w.inflight += end - off
	return s
}

// landed records that the write s was answered, with err.
func (w *WriteBehind) landed(s *span, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.ranges, s)
	w.inflight -= s.end - s.off
	if err != nil && w.err == nil {
		w.err = err
	}
	w.cond.Broadcast()
}

func (w *WriteBehind) markSent(s *span) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s.sent = true
	w.cond.Broadcast()
}

// deadline is when a wait starting now gives up; zero: never.
func (w *WriteBehind) deadline() time.Time {
	if w.MaxWait <= 0 {
		return time.Time{}
	}
	return time.Now().Add(w.MaxWait)
}

// waitLocked waits for the next change, or until deadline, after which
// it returns an error saying what was waited for. Callers check their
// condition again either way.
func (w *WriteBehind) waitLocked(deadline time.Time, what string) error {
	if deadline.IsZero() {
		w.cond.Wait()
		return nil
	}
	left := time.Until(deadline)
	if left <= 0 {
		return fmt.Errorf("waited %v for %s: %w", w.MaxWait, what, context.DeadlineExceeded)
	}
	t := time.AfterFunc(left, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.cond.Broadcast()
	})
	w.cond.Wait()
	t.Stop()
	return nil
}

// WaitSent blocks until every queued write has been sent (see Sender), so
// that what is asked of the server next comes after them, without waiting
// for their answers: Flush still must, for the errors.
func (w *WriteBehind) WaitSent() error {
	deadline := w.deadline()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.unsentLocked() {
		if err := w.waitLocked(deadline, "writes to be sent"); err != nil {
			return err
		}
	}
	return nil
}

func (w *WriteBehind) unsentLocked() bool {
	for s := range w.ranges {
		if !s.sent {
			return true
		}
	}
	return false
}

// WaitRange blocks until no write overlapping [off, end) is in flight, so
// a read of those bytes sees them; on an error the read must fail, not
// read what the server had before.
func (w *WriteBehind) WaitRange(off, end int64) error {
	deadline := w.deadline()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.overlapsLocked(off, end) {
		if err := w.waitLocked(deadline, "writes of the bytes to read"); err != nil {
			return err
		}
	}
	return nil
}

// Pending reports whether any write is still in flight.
func (w *WriteBehind) Pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inflight > 0
}

// Flush waits until every queued write has been answered and returns the
// first error any of them met (it stays: a later Flush returns it again).
// Should MaxWait pass first, it says so: the writes still on their way
// are not called done, and the next Flush waits for them again.
func (w *WriteBehind) Flush() error {
	deadline := w.deadline()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.inflight > 0 {
		if err := w.waitLocked(deadline, "writes to be answered"); err != nil {
			return err
		}
	}
	return w.err
}

func (w *WriteBehind) overlapsLocked(off, end int64) bool {
	for s := range w.ranges {
		if s.overlaps(off, end) {
			return true
		}
	}
	return false
}
