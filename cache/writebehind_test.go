package cache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeFile is a server file whose writes take a while.
type fakeFile struct {
	mu       sync.Mutex
	data     []byte
	delay    time.Duration
	failAt   int64 // a write at this offset fails (-1: none)
	inflight int
	maxSeen  int
}

func (f *fakeFile) send(p []byte, off int64, _ func()) error {
	f.mu.Lock()
	f.inflight++
	if f.inflight > f.maxSeen {
		f.maxSeen = f.inflight
	}
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inflight--
	if off == f.failAt {
		return errors.New("disk full")
	}
	if need := int(off) + len(p); need > len(f.data) {
		f.data = append(f.data, make([]byte, need-len(f.data))...)
	}
	copy(f.data[off:], p)
	return nil
}

func TestWritesOverlapInFlightAndAllLandByFlush(t *testing.T) {
	f := &fakeFile{delay: 20 * time.Millisecond, failAt: -1}
	w := NewWriteBehind(f.send, 1<<20, nil)
	want := make([]byte, 0, 64*1024)
	buf := make([]byte, 4096)
	for i := 0; i < 16; i++ {
		for j := range buf {
			buf[j] = byte(i)
		}
		if err := w.Write(buf, int64(i*4096)); err != nil {
			t.Fatal(err)
		}
		want = append(want, buf...)
		for j := range buf { // the caller reuses its buffer at once
			buf[j] = 0xff
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.data, want) {
		t.Fatal("server bytes differ from what was written")
	}
	if f.maxSeen < 8 {
		t.Errorf("at most %d writes were in flight at once; write-behind should overlap them", f.maxSeen)
	}
}

func TestAnErrorIsReturnedByTheNextWriteAndEveryFlush(t *testing.T) {
	f := &fakeFile{delay: time.Millisecond, failAt: 4096}
	w := NewWriteBehind(f.send, 1<<20, nil)
	w.Write(make([]byte, 4096), 0)
	w.Write(make([]byte, 4096), 4096)
	if err := w.Flush(); err == nil {
		t.Fatal("flush after a failed write returned nil")
	}
	if err := w.Write(make([]byte, 10), 8192); err == nil {
		t.Fatal("write after a failed write returned nil")
	}
	if err := w.Flush(); err == nil {
		t.Fatal("second flush forgot the error")
	}
}

func TestOverlappingWritesLandInOrder(t *testing.T) {
	f := &fakeFile{delay: 5 * time.Millisecond, failAt: -1}
	w := NewWriteBehind(f.send, 1<<20, nil)
	for i := 0; i < 20; i++ {
		w.Write([]byte{byte(i), byte(i)}, 0)
	}
	w.Flush()
	if !bytes.Equal(f.data, []byte{19, 19}) {
		t.Fatalf("last write did not win: %v", f.data)
	}
}

func TestBytesInFlightStayUnderTheLimit(t *testing.T) {
	f := &fakeFile{delay: 5 * time.Millisecond, failAt: -1}
	w := NewWriteBehind(f.send, 16*1024, nil)
	for i := 0; i < 40; i++ {
		w.Write(make([]byte, 4096), int64(i*4096))
		w.mu.Lock()
		over := w.inflight > 16*1024
		w.mu.Unlock()
		if over {
			t.Fatal("more than the limit in flight")
		}
	}
	w.Flush()
	if f.maxSeen > 4 {
		t.Fatalf("%d writes of 4 KiB in flight with a 16 KiB limit", f.maxSeen)
	}
}

func TestWaitRangeWaitsOnlyForOverlappingWrites(t *testing.T) {
	release := make(chan struct{})
	w := NewWriteBehind(func(p []byte, off int64, _ func()) error { <-release; return nil }, 1<<20, nil)
	w.Write(make([]byte, 100), 1000)
	done := make(chan struct{})
	go func() { w.WaitRange(0, 500); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("WaitRange blocked on a write elsewhere in the file")
	}
	done = make(chan struct{})
	go func() { w.WaitRange(1050, 2000); close(done) }()
	select {
	case <-done:
		t.Fatal("WaitRange returned while an overlapping write was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
}

func TestWritesShareTheMountsBudgetAndNeverWaitOnOthersMemory(t *testing.T) {
	budget := NewBudget(64 << 10)
	f := &fakeFile{delay: 20 * time.Millisecond, failAt: -1}
	w := NewWriteBehind(f.send, 1<<20, budget)
	chunk := bytes.Repeat([]byte{7}, 16<<10)
	for i := range 16 {
		if err := w.Write(chunk, int64(i)*16<<10); err != nil {
			t.Fatal(err)
		}
		if budget.Left() < 0 {
			t.Fatalf("budget overdrawn: %d", budget.Left())
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if budget.Left() != 64<<10 {
		t.Fatalf("%d bytes of the budget not given back after Flush", 64<<10-budget.Left())
	}
	if f.maxSeen < 2 || f.maxSeen > 4 {
		t.Fatalf("%d writes in flight at once, want 2 to 4 (the budget holds 4)", f.maxSeen)
	}
	if !bytes.Equal(f.data, bytes.Repeat([]byte{7}, 256<<10)) {
		t.Fatal("not every byte landed")
	}

	// Someone else holds all of it: the write goes out unbuffered, its
	// error is the caller's at once and stays for Flush.
	if !budget.TryTake(64 << 10) {
		t.Fatal("budget not whole")
	}
	f.failAt = 1 << 20
	if err := w.Write(chunk, 1<<20); err == nil {
		t.Fatal("an unbuffered write's error was not returned")
	}
	if err := w.Flush(); err == nil {
		t.Fatal("the unbuffered write's error was dropped before Flush")
	}
}

// Unbuffered writes keep the order of overlapping ones like queued ones do.
func TestAnUnbufferedWriteIsNotOvertakenByAnOverlappingOne(t *testing.T) {
	budget := NewBudget(0) // spent: every write goes unbuffered
	f := &fakeFile{delay: 30 * time.Millisecond, failAt: -1}
	w := NewWriteBehind(f.send, 1<<20, budget)
	first, second := bytes.Repeat([]byte{1}, 4096), bytes.Repeat([]byte{2}, 4096)
	done := make(chan error, 1)
	go func() { done <- w.Write(first, 0) }()
	time.Sleep(5 * time.Millisecond)
	if err := w.Write(second, 0); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.maxSeen != 1 {
		t.Fatalf("%d overlapping writes were in flight at once", f.maxSeen)
	}
	if !bytes.Equal(f.data, second) {
		t.Fatal("the earlier write landed last")
	}
}

// WaitSent returns once every queued write has gone out, without waiting
// for the answers; a write that never says it went out counts as gone
// once answered.
func TestWaitSentWaitsForWritesToGoOutNotForTheirAnswers(t *testing.T) {
	answer := make(chan struct{})
	w := NewWriteBehind(func(p []byte, off int64, sent func()) error {
		if off == 0 {
			sent()
		}
		<-answer
		return nil
	}, 1<<20, nil)
	w.Write(make([]byte, 10), 0)
	done := make(chan struct{})
	go func() { w.WaitSent(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WaitSent waited for an answer")
	}
	w.Write(make([]byte, 10), 100) // never says it went out
	done = make(chan struct{})
	go func() { w.WaitSent(); close(done) }()
	select {
	case <-done:
		t.Fatal("WaitSent returned before a write that had not gone out was answered")
	case <-time.After(50 * time.Millisecond):
	}
	close(answer)
	<-done
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// A send that never answers (its own deadline broken, or a wait it makes
// that never ends) must not hang the kernel requests that wait on it:
// each wait gives up after MaxWait with an error the kernel sees as
// ETIMEDOUT, and nothing still on its way is called done.
func TestEveryWaitOnAStuckWriteEndsAtMaxWait(t *testing.T) {
	answer := make(chan struct{})
	w := NewWriteBehind(func(p []byte, off int64, sent func()) error {
		<-answer
		return nil
	}, 100, nil)
	w.MaxWait = 50 * time.Millisecond
	defer func() {
		close(answer)
		if err := w.Flush(); err != nil {
			t.Errorf("once the write was answered, Flush says %v", err)
		}
	}()
	if err := w.Write(make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	waits := map[string]func() error{
		"Flush":                       w.Flush,
		"WaitSent":                    w.WaitSent,
		"WaitRange over the write":    func() error { return w.WaitRange(50, 60) },
		"Write with no room":          func() error { return w.Write(make([]byte, 10), 500) },
		"Write overlapping the stuck": func() error { return w.Write(make([]byte, 10), 90) },
		"Flush again, still not done": w.Flush,
	}
	for name, wait := range waits {
		start := time.Now()
		err := wait()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with a write stuck: %v, want a deadline error", name, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s took %v with MaxWait 50ms", name, took)
		}
	}
	if err := w.WaitRange(200, 300); err != nil {
		t.Errorf("WaitRange elsewhere in the file: %v", err)
	}
}
