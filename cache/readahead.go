package cache

import (
	"errors"
	"io"
	"sync"
)

// Read-ahead sizes: a window starts at one chunk, so a program that reads
// only a file's first bytes costs one chunk, and grows fourfold with every
// chunk read through in sequence, up to the maximum: like TCP's slow start
// it grows with what arrives, so a reader that keeps up reaches 16 MiB two
// round trips after its first chunk, which at 50 ms keeps eight SSH
// channel windows (2 MiB each) busy.
const (
	ReadAheadChunk = 512 << 10
	ReadAheadMax   = 16 << 20
)

// ReadAhead serves one handle's reads and, once they run in sequence,
// keeps the following bytes in flight so that each read finds its data
// already here instead of waiting a round trip. Random reads fetch only
// what was asked.
type ReadAhead struct {
	// fetch fills p from off; it returns fewer bytes only at end of file,
	// with io.EOF.
	fetch  func(p []byte, off int64) (int, error)
	budget *Budget // shared by every handle of the mount; nil: unbounded

	// Size, when set and known, is the file's size as last learned (what
	// the kernel was told too): nothing is fetched ahead past it but one
	// byte, so reading a small file costs one request, whose short answer
	// is also the server's word that the file ends there. The size alone
	// never ends a read: a read past the chunks asks the server.
	Size func() (int64, bool)

	mu     sync.Mutex // guards the fields below
	chunks []*chunk   // in offset order, contiguous
	next   int64      // where a sequential read would start
	window int
	passed int64 // end of the last chunk read through: each widens the window once
}

type chunk struct {
	off  int64
	data []byte
	done chan struct{}
	n    int   // set before done closes
	err  error // likewise; io.EOF when the file ends inside
}

// NewReadAhead returns a ReadAhead over fetch. Chunks fetched ahead are
// paid for from budget (nil for no bound).
func NewReadAhead(fetch func(p []byte, off int64) (int, error), budget *Budget) *ReadAhead {
	return &ReadAhead{fetch: fetch, budget: budget, window: ReadAheadChunk}
}

// releaseLocked forgets chunks and gives their memory back to the budget.
func (r *ReadAhead) releaseLocked(chunks []*chunk) {
	r.budget.Give(int64(len(chunks)) * ReadAheadChunk)
}

// ReadAt fills p from off with ReaderAt semantics.
func (r *ReadAhead) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	// The kernel reads ahead too, several requests at once, so sequential
	// reads can arrive slightly out of order: a read inside what is being
	// fetched counts as sequential.
	if off != r.next && !r.coversLocked(off) {
		// Not in sequence: forget what was fetched ahead, start over.
		r.releaseLocked(r.chunks)
		r.chunks = nil
		r.window = ReadAheadChunk
		r.next = off + int64(len(p))
		r.passed = r.next
		r.mu.Unlock()
		return r.fetch(p, off)
	}
	if end := off + int64(len(p)); end > r.next {
		r.next = end
	}
	r.growLocked()
	r.dropBeforeLocked(off - keepBehind)
	r.fillLocked(off)
	r.mu.Unlock()

	total := 0
	for total < len(p) {
		c := r.chunkAt(off + int64(total))
		if c == nil {
			// Not fetched ahead (end of file was seen earlier, or a write
			// invalidated the chunks meanwhile): ask for the rest directly,
			// so neither can pass for a short read.
			n, err := r.fetch(p[total:], off+int64(total))
			return total + n, err
		}
		<-c.done
		start := off + int64(total) - c.off
		before := total
		if start < int64(c.n) {
			total += copy(p[total:], c.data[start:c.n])
		}
		if total == before && c.err == nil {
			// A chunk that gave no bytes and no error: never spin on it.
			n, err := r.fetch(p[total:], off+int64(total))
			return total + n, err
		}
		if total < len(p) && c.err != nil {
			if !errors.Is(c.err, io.EOF) {
				r.Invalidate() // let a retry fetch again
				return total, c.err
			}
			if pos := off + int64(total); total == 0 || !r.endsAt(pos) {
				// The file ended here when the chunk was fetched; a read
				// that starts there, or a size learned since that is not
				// this end (or none), says it may have grown (tail -f):
				// ask the server.
				r.Invalidate()
				n, err := r.fetch(p[total:], pos)
				return total + n, err
			}
			return total, c.err
		}
	}
	return total, nil
}

// knownSize is Size's answer, if there is one.
func (r *ReadAhead) knownSize() (int64, bool) {
	if r.Size == nil {
		return 0, false
	}
	return r.Size()
}

// endsAt reports whether the size last learned is off: the end a chunk
// saw is still the file's.
func (r *ReadAhead) endsAt(off int64) bool {
	size, ok := r.knownSize()
	return ok && size == off
}

// keepBehind is how far behind the latest read chunks are kept, for the
// kernel's reads that arrive late.
const keepBehind = 1 << 20

func (r *ReadAhead) coversLocked(off int64) bool {
	n := len(r.chunks)
	return n > 0 && off >= r.chunks[0].off && off < r.chunks[n-1].off+int64(len(r.chunks[n-1].data))
}

// Invalidate forgets everything fetched ahead, as after a write through
// the same handle.
func (r *ReadAhead) Invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(r.chunks)
	r.chunks = nil
	r.window = ReadAheadChunk
	r.next = -1
	r.passed = -1
}

// Close gives back what the handle's chunks hold; the ReadAhead is not
// used after.
func (r *ReadAhead) Close() {
	r.Invalidate()
}

func (r *ReadAhead) chunkAt(off int64) *chunk {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.chunks {
		if off >= c.off && off < c.off+int64(len(c.data)) {
			return c
		}
	}
	return nil
}

// growLocked widens the window fourfold for each chunk that the reads
// have gone through since the last time.
func (r *ReadAhead) growLocked() {
	for _, c := range r.chunks {
		if end := c.off + int64(len(c.data)); end <= r.next && end > r.passed {
			r.window = min(4*r.window, ReadAheadMax)
			r.passed = end
		}
	}
}

// dropBeforeLocked releases chunks wholly before off.
func (r *ReadAhead) dropBeforeLocked(off int64) {
	i := 0
	for i < len(r.chunks) && r.chunks[i].off+int64(len(r.chunks[i].data)) <= off {
		i++
	}
	r.releaseLocked(r.chunks[:i])
	r.chunks = r.chunks[i:]
}

// fillLocked starts fetches so chunks cover [off, next+window).
func (r *ReadAhead) fillLocked(off int64) {
	end := r.next + int64(r.window)
	from := off
	if n := len(r.chunks); n > 0 {
		first, last := r.chunks[0], r.chunks[n-1]
		if first.off > off || last.off+int64(len(last.data)) < off {
			r.releaseLocked(r.chunks) // not contiguous with this read: start again
			r.chunks = nil
		} else {
			select {
			case <-last.done:
				if last.err != nil {
					return // end of file (or an error) already seen
				}
			default:
			}
			from = last.off + int64(len(last.data))
		}
	}
	size, known := r.knownSize()
	if known {
		end = min(end, max(size, off+1)) // at least the chunk read from
	}
	for from < end && r.budget.TryTake(ReadAheadChunk) {
		n := int64(ReadAheadChunk)
		if known && from < size {
			// One byte past the size learned: the server's short answer
			// confirms the end in the same round trip, and a size that
			// was stale (learned while writes were on their way) can
			// never end a read early.
			n = min(n, size-from+1)
		}
		c := &chunk{off: from, data: make([]byte, n), done: make(chan struct{})}
		r.chunks = append(r.chunks, c)
		go func() {
			c.n, c.err = r.fetch(c.data, c.off)
			close(c.done)
		}()
		from += ReadAheadChunk
	}
}
