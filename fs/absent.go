package fs

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/sftpmount/sftpmount/cache"
)

// A name missing from a listing is answered absent only within
// Caches.Negative of the server saying so (listing.go); past it, a lookup
// asks the server. Tools that walk a tree probe the same absent names in
// many directories on every run (git status opens .gitignore and
// .gitattributes in each, make and compilers try every include path):
// asked one by one, each costs a round trip, and a tree walked for longer
// than the negative timeout would pay them on every run.
//
// So the absent names a lookup was answered about are renewed: while any
// was used within renewWindow (five negative timeouts), every quarter of
// the negative timeout the names used within it whose answer is older than
// half the timeout are asked about again, in the background, sweepParallel
// at a time. A walk repeated back to back finds every answer fresh; a name
// made on the server meanwhile is found by the renewal, within the
// negative timeout as before. A lookup of a name whose renewal is on its
// way waits for that answer instead of asking a second time. Once nothing
// has used an absent answer for the window, the renewal stops, and the
// first lookup that finds an answer expired asks for its own name and,
// at once, for all the others expired (a sweep).
const (
	sweepMax      = 512
	sweepParallel = 32
)

// absentName is what the server last said of a name it did not have, in
// Unix nanoseconds: when it said so (0: never; the name was answered from
// its directory's listing) and when a lookup was last answered absent for
// it.
type absentName struct{ confirmed, used atomic.Int64 }

type absentRenewal struct {
	mu      sync.Mutex               // guards the fields below (slots: made once, under it)
	running bool                     // a renewal loop runs
	used    time.Time                // when an absent answer was last used
	swept   time.Time                // when the last sweep or renewal round started
	asking  map[string]chan struct{} // names being asked about; closed when answered
	slots   *semaphore.Weighted      // bounds the questions in flight
}

func renewWindow(negative time.Duration) time.Duration { return 5 * negative }

// renewing reports whether absent answers are renewed at all: without an
// attribute cache an answer found present would not be kept, and without
// a server (the package's tests) there is nobody to ask.
func (f *FS) renewing() bool {
	return f.remote != nil && f.opts.Caches.Negative > 0 && f.opts.Caches.Attr > 0
}

// confirmedAbsent reports whether the server said rel was absent within
// the negative timeout, or since, while the feed vouches for it.
func (f *FS) confirmedAbsent(rel string) bool {
	a, ok := f.absent.Get(rel)
	if !ok {
		return false
	}
	at := a.confirmed.Load()
	return at != 0 && (time.Since(time.Unix(0, at)) < f.opts.Caches.Negative || f.absentVouched(rel, at))
}

// confirmAbsent records that the server said rel was absent when asked
// at asked, once tok began, unless a change of ours to rel since may be
// missing from that answer.
func (f *FS) confirmAbsent(rel string, asked time.Time, tok cache.Token) {
	if f.opts.Caches.Negative <= 0 {
		return
	}
	f.changed.Keep(tok, func() { f.absentName(rel).confirmed.Store(asked.UnixNano()) }, rel)
}

func (f *FS) absentName(rel string) *absentName {
	a, ok := f.absent.Get(rel)
	if !ok {
		a = &absentName{}
		f.absent.Put(rel, a)
	}
	return a
}

// usedAbsent notes that a lookup of rel was answered absent, starts the
// renewal loop if it is not running, and reports whether rel had not been
// answered absent before (within the directory cache's timeout).
func (f *FS) usedAbsent(rel string) (first bool) {
	if !f.renewing() {
		return true
	}
	now := time.Now()
	a := f.absentName(rel)
	first = a.used.Swap(now.UnixNano()) == 0
	f.absent.Put(rel, a) // kept for the window from its last use
	r := &f.renewal
	r.mu.Lock()
	defer r.mu.Unlock()
	r.used = now
	if !r.running {
		r.running = true
		f.bg.Go(f.renewLoop)
	}
	return first
}

// renewLoop asks again about absent names in use, a round every quarter
// of the negative timeout, until none was used within the window or the
// mount closes.
func (f *FS) renewLoop(ctx context.Context) {
	tick := time.NewTicker(f.opts.Caches.Negative / 4)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			f.renewal.mu.Lock()
			f.renewal.running = false
			f.renewal.mu.Unlock()
			return
		}
		r := &f.renewal
		r.mu.Lock()
		if time.Since(r.used) > renewWindow(f.opts.Caches.Negative) {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.swept = time.Now()
		r.mu.Unlock()
		f.askAgain("", true)
	}
}

// sweepAbsent asks, in the background, about every absent name whose
// answer has expired, unless a sweep or a renewal round started within a
// quarter of the negative timeout. except is the name the caller asks
// about itself.
func (f *FS) sweepAbsent(except string) {
	if !f.renewing() {
		return
	}
	r := &f.renewal
	r.mu.Lock()
	if time.Since(r.swept) < f.opts.Caches.Negative/4 {
		r.mu.Unlock()
		return
	}
	r.swept = time.Now()
	r.mu.Unlock()
	f.askAgain(except, false)
}

// askAgain asks about the absent names whose answers are older than half
// the negative timeout: with renew, only those used within the renewal
// window; without, all of them.
func (f *FS) askAgain(except string, renew bool) {
	neg := f.opts.Caches.Negative
	now := time.Now()
	type question struct {
		rel  string
		done chan struct{}
	}
	var todo []question
	r := &f.renewal
	r.mu.Lock()
	if r.asking == nil {
		r.asking, r.slots = map[string]chan struct{}{}, semaphore.NewWeighted(sweepParallel)
	}
	f.absent.Range(func(rel string, a *absentName) bool {
		if rel == except || r.asking[rel] != nil {
			return true
		}
		said := a.confirmed.Load()
		if l, ok := f.listings.Get(parentOf(rel)); ok {
			said = max(said, l.ours.Load())
		}
		if now.Sub(time.Unix(0, said)) < neg/2 || f.absentVouched(rel, a.confirmed.Load()) {
			return true // fresh enough, or the feed vouches for it
		}
		if renew && now.Sub(time.Unix(0, a.used.Load())) > renewWindow(neg) {
			return true // nobody asks for it now
		}
		q := question{rel, make(chan struct{})}
		r.asking[rel] = q.done
		todo = append(todo, q)
		return len(todo) < sweepMax
	})
	r.mu.Unlock()
	for _, q := range todo {
		f.bg.Go(func(ctx context.Context) {
			r.slots.Acquire(context.Background(), 1) // cannot fail: no deadline
			f.confirm(ctx, q.rel)
			r.slots.Release(1)
			r.mu.Lock()
			delete(r.asking, q.rel)
			r.mu.Unlock()
			close(q.done)
		})
	}
}

// awaitAsked waits, within ctx, for the answer about rel on its way (a
// sweep's or a renewal's), if there is one, and reports whether there was.
func (f *FS) awaitAsked(ctx context.Context, rel string) bool {
	r := &f.renewal
	r.mu.Lock()
	done := r.asking[rel]
	r.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// confirm asks the server whether rel is still absent and records the
// answer: a name that now exists joins its directory's listing, with its
// attributes cached under the usual rule (fetch.go).
func (f *FS) confirm(ctx context.Context, rel string) {
	asked := time.Now()
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	a, err := f.remote.Lstat(ctx, rel)
	switch {
	case errors.Is(err, os.ErrNotExist):
		f.confirmAbsent(rel, asked, tok)
	case err == nil:
		f.foundPresent(rel, a, tok)
	}
}
