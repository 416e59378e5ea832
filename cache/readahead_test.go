package cache

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type slowFile struct {
	data    []byte
	delay   time.Duration
	calls   atomic.Int64
	bytes   atomic.Int64
	failOff atomic.Int64
	mu      sync.Mutex

	inFlight, peak atomic.Int64 // fetches running now, and at most
	done           atomic.Int64 // fetches returned
	fullAfter      atomic.Int64 // fetches returned when 16 first ran at once; -1: never
}

func (f *slowFile) fetch(p []byte, off int64) (int, error) {
	f.calls.Add(1)
	now := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for old := f.peak.Load(); now > old && !f.peak.CompareAndSwap(old, now); old = f.peak.Load() {
	}
	time.Sleep(f.delay)
	if fo := f.failOff.Load(); fo >= 0 && off <= fo && fo < off+int64(len(p)) {
		return 0, errors.New("link down")
	}
	f.mu.Lock() // a test may grow data while chunks fetched ahead still run
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.data[off:])
	f.bytes.Add(int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func newSlowFile(size int, delay time.Duration) *slowFile {
	f := &slowFile{data: make([]byte, size), delay: delay}
	rand.New(rand.NewSource(3)).Read(f.data)
	f.failOff.Store(-1)
	return f
}

// readAll reads like cat does: 128 KiB at a time in sequence.
func readAll(t *testing.T, r *ReadAhead) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 128<<10)
	off := int64(0)
	for {
		n, err := r.ReadAt(buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSequentialReadReturnsEveryByteAndStopsAtEOF(t *testing.T) {
	for _, size := range []int{0, 1, ReadAheadChunk - 1, ReadAheadChunk, 3*ReadAheadChunk + 7, 20 << 20} {
		f := newSlowFile(size, 0)
		if got := readAll(t, NewReadAhead(f.fetch, nil)); !bytes.Equal(got, f.data) {
			t.Fatalf("size %d: got %d bytes, content equal: %v", size, len(got), bytes.Equal(got, f.data[:len(got)]))
		}
	}
}

// Overlap is shown by how many fetches run at once, not by a time limit
// that a loaded machine could miss.
func TestSequentialReadHidesTheRoundTrip(t *testing.T) {
	f := newSlowFile(16<<20, 20*time.Millisecond)
	got := readAll(t, NewReadAhead(f.fetch, nil))
	if !bytes.Equal(got, f.data) {
		t.Fatal("content differs")
	}
	// The window grows to 16 MiB of 512 KiB chunks: 32 fetches at once.
	if peak := f.peak.Load(); peak < 16 {
		t.Errorf("at most %d fetches were in flight at once: read-ahead is not overlapping", peak)
	}
}

// The window grows with what arrives, as TCP's slow start does: fourfold
// for each chunk read through, so a reader that keeps up has 16 MiB in
// flight after its first three chunks, not after reading several MiB
// past them.
func TestTheWindowGrowsWithEachChunkReadThrough(t *testing.T) {
	f := newSlowFile(64<<20, 0)
	r := NewReadAhead(f.fetch, nil)
	buf := make([]byte, 128<<10)
	off := int64(0)
	for i, want := range []int{2 << 20, 8 << 20, 16 << 20} {
		for end := off + ReadAheadChunk; off < end; off += int64(len(buf)) {
			if _, err := r.ReadAt(buf, off); err != nil {
				t.Fatal(err)
			}
		}
		r.mu.Lock()
		window := r.window
		r.mu.Unlock()
		if window != want {
			t.Fatalf("after %d chunks read through, the window is %d KiB, want %d KiB", i+1, window>>10, want>>10)
		}
	}
}

// readPages reads like the kernel's page cache: 4 KiB at a time while off
// is below the size it knows, or, with size < 0, until a read gives
// nothing (a reader that saw the file grow, as tail -f does).
func readPages(t *testing.T, r *ReadAhead, size int64) []byte {
	var got []byte
	buf := make([]byte, 4096)
	for off := int64(0); size < 0 || off < size; {
		n, err := r.ReadAt(buf, off)
		got = append(got, buf[:n]...)
		off += int64(n)
		if n == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	return got
}

// A file whose size is known is not fetched past it: a small file costs
// one request for its bytes, not read-ahead chunks that only say EOF.
func TestAFileOfKnownSizeIsNotFetchedPastItsEnd(t *testing.T) {
	for size, fetches := range map[int]int64{100: 1, 4096: 1, 3*ReadAheadChunk + 7: 4} {
		f := newSlowFile(size, 0)
		r := NewReadAhead(f.fetch, nil)
		r.Size = func() (int64, bool) { return int64(size), true }
		if got := readPages(t, r, int64(size)); !bytes.Equal(got, f.data) {
			t.Fatalf("size %d: got %d bytes", size, len(got))
		}
		if n := f.calls.Load(); n != fetches {
			t.Errorf("size %d: %d fetches, want %d", size, n, fetches)
		}
	}
}

// A file that grew past the size known at open is read to its new end.
func TestAFileThatGrewPastItsKnownSizeIsReadToItsEnd(t *testing.T) {
	f := newSlowFile(5000, 0)
	r := NewReadAhead(f.fetch, nil)
	r.Size = func() (int64, bool) { return 100, true }
	if got := readPages(t, r, -1); !bytes.Equal(got, f.data) {
		t.Fatalf("got %d bytes of 5000", len(got))
	}
}

// An end of file seen by a chunk fetched ahead is not the end for good: a
// read that starts there, or a page read again once a larger size is
// known, asks the server (a log under tail -f).
func TestAReadPastAnEndSeenEarlierAsksTheServerAgain(t *testing.T) {
	f := newSlowFile(11, 0)
	var size atomic.Int64
	size.Store(11)
	r := NewReadAhead(f.fetch, nil)
	buf := make([]byte, 4096)
	if n, _ := r.ReadAt(buf, 0); n != 11 {
		t.Fatalf("read %d bytes of 11", n)
	}
	f.mu.Lock()
	f.data = append(f.data, bytes.Repeat([]byte("x"), 10000)...)
	f.mu.Unlock()
	if n, err := r.ReadAt(buf, 11); n != 4096 {
		t.Fatalf("a read from the old end got %d bytes (%v), want 4096", n, err)
	}
	r.Invalidate()
	r.Size = func() (int64, bool) { return size.Load(), true }
	r.ReadAt(buf[:11], 0) // the chunk of the old end, fetched ahead
	size.Store(10011)
	if n, err := r.ReadAt(buf, 0); n != 4096 {
		t.Fatalf("the first page read again after the file grew: %d bytes (%v), want 4096", n, err)
	}
}

func TestRandomReadsFetchOnlyWhatIsAsked(t *testing.T) {
	f := newSlowFile(8<<20, 0)
	r := NewReadAhead(f.fetch, nil)
	buf := make([]byte, 4096)
	rng := rand.New(rand.NewSource(4))
	for i := 0; i < 100; i++ {
		off := rng.Int63n(int64(len(f.data) - 4096))
		n, err := r.ReadAt(buf, off)
		if err != nil || n != 4096 || !bytes.Equal(buf, f.data[off:off+4096]) {
			t.Fatalf("random read at %d: %d %v", off, n, err)
		}
	}
	if f.bytes.Load() > 100*4096*2 {
		t.Errorf("random reads fetched %d bytes for 400 KiB asked", f.bytes.Load())
	}
}

func TestAFailedFetchIsReportedAndARetryWorks(t *testing.T) {
	f := newSlowFile(4<<20, 0)
	f.failOff.Store(2 << 20)
	r := NewReadAhead(f.fetch, nil)
	buf := make([]byte, 128<<10)
	var err error
	off := int64(0)
	for err == nil && off < int64(len(f.data)) {
		var n int
		n, err = r.ReadAt(buf, off)
		off += int64(n)
	}
	if err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("error was swallowed: %v at %d", err, off)
	}
	f.failOff.Store(-1)
	n, err := r.ReadAt(buf, off)
	if err != nil || !bytes.Equal(buf[:n], f.data[off:off+int64(n)]) {
		t.Fatalf("retry: %d %v", n, err)
	}
}

func TestInvalidateDropsStaleBytes(t *testing.T) {
	f := newSlowFile(4<<20, 0)
	r := NewReadAhead(f.fetch, nil)
	buf := make([]byte, 4096)
	r.ReadAt(buf, 0)
	r.ReadAt(buf, 4096) // sequential: fetches ahead
	f.data[8192] ^= 0xff
	r.Invalidate()
	r.ReadAt(buf, 8192)
	if buf[0] != f.data[8192] {
		t.Fatal("served a byte fetched before Invalidate")
	}
}

func TestInvalidateDuringAReadNeverLooksLikeEndOfFile(t *testing.T) {
	f := newSlowFile(4<<20, 0)
	var r *ReadAhead
	var once sync.Once
	r = NewReadAhead(func(p []byte, off int64) (int, error) {
		if off == 0 {
			// A write through the same handle lands while this read
			// waits: the chunks fetched ahead are dropped under it.
			once.Do(r.Invalidate)
		}
		return f.fetch(p, off)
	}, nil)
	buf := make([]byte, ReadAheadChunk+100<<10) // spans two chunks
	n, err := r.ReadAt(buf, 0)
	if n != len(buf) || err != nil || !bytes.Equal(buf, f.data[:n]) {
		t.Fatalf("read across an invalidation: n=%d err=%v, want %d bytes", n, err, len(buf))
	}
}

func TestReadersSharingABudgetNeverHoldMoreThanIt(t *testing.T) {
	const chunks = 4
	budget := NewBudget(chunks * ReadAheadChunk)
	f := newSlowFile(12<<20, 2*time.Millisecond)
	var wg sync.WaitGroup
	readers := make([]*ReadAhead, 3)
	for i := range readers {
		readers[i] = NewReadAhead(f.fetch, budget)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := readAll(t, readers[i]); !bytes.Equal(got, f.data) {
				t.Errorf("reader %d: content differs", i)
			}
		}()
	}
	wg.Wait()
	// Each reader may also fetch its own read directly: 3 of those.
	if peak := f.peak.Load(); peak > chunks+3 {
		t.Errorf("%d fetches in flight at once with a budget of %d chunks", peak, chunks)
	}
	for _, r := range readers {
		r.Close()
	}
	if left := budget.Left(); left != chunks*ReadAheadChunk {
		t.Errorf("budget left after every reader closed: %d, want %d", left, chunks*ReadAheadChunk)
	}
}

// A size learned while writes were on their way is smaller than the
// file: one read across it must still return every byte. A short read
// there is taken by the kernel as the end of the file, and cp copied out
// a silently shortened file (the soak's wrong bytes).
func TestAStaleSmallerSizeNeverEndsAReadEarly(t *testing.T) {
	f := newSlowFile(1<<20, 0)
	r := NewReadAhead(f.fetch, nil)
	r.Size = func() (int64, bool) { return 600 << 10, true }
	buf := make([]byte, 1<<20)
	n, err := r.ReadAt(buf, 0)
	if n != len(buf) || !bytes.Equal(buf, f.data) {
		t.Fatalf("read %d bytes of %d (%v): a stale size ended the read", n, len(buf), err)
	}
}
