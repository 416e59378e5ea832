package fs

import (
	"context"
	"errors"
	"os"
	"path"
	"sync"
	"time"
)

// A name missing from a listing is answered absent only within
// Caches.Negative (listing.go); past it, a lookup asks the server. Tools
// that walk a tree probe the same absent names in many directories on
// every run (git status opens .gitignore in each, make and compilers try
// every include path): asked one by one, each costs a round trip. So the
// first such lookup asks, alongside its own name, for every absent name
// the cached listings have seen probed and not confirmed within the
// timeout, all at once (up to sweepMax, sweepParallel in flight); the
// lookups that follow find the server's fresh answers.

const (
	sweepMax      = 512
	sweepParallel = 32
)

type absentSweep struct {
	mu   sync.Mutex
	last time.Time // when the last sweep started
}

// sweepAbsent starts, in the background, the questions about the probed
// absent names of every cached listing whose answers have expired, unless
// a sweep started within half the negative timeout. except is the name
// the caller asks about itself.
func (f *FS) sweepAbsent(except string) {
	neg := f.opts.Caches.Negative
	if neg <= 0 || f.opts.Caches.Attr <= 0 {
		return
	}
	s := &f.sweep
	s.mu.Lock()
	if time.Since(s.last) < neg/2 {
		s.mu.Unlock()
		return
	}
	s.last = time.Now()
	s.mu.Unlock()

	type probe struct {
		l   *listing
		dir string
		rel string
	}
	var todo []probe
	f.listings.Range(func(dir string, l *listing) bool {
		if l.answersAbsent(neg) {
			return true // still answers for itself
		}
		l.mu.Lock()
		for name, at := range l.probed {
			rel := path.Join(dir, name)
			if rel != except && (at == 0 || time.Since(time.Unix(0, at)) >= neg/2) {
				todo = append(todo, probe{l, dir, rel})
			}
		}
		l.mu.Unlock()
		return len(todo) < sweepMax
	})
	if len(todo) == 0 {
		return
	}
	go func() {
		slots := make(chan struct{}, sweepParallel)
		var wg sync.WaitGroup
		for _, p := range todo {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				f.confirm(context.Background(), p.l, p.rel)
			}()
		}
		wg.Wait()
	}()
}

// confirm asks the server whether rel, absent from l, is still absent,
// and records the answer: a name that now exists joins the listing, with
// its attributes cached under the usual rule (fetch.go).
func (f *FS) confirm(ctx context.Context, l *listing, rel string) {
	asked := time.Now()
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	a, err := f.remote.Lstat(ctx, rel)
	switch {
	case errors.Is(err, os.ErrNotExist):
		l.confirmedAt(path.Base(rel), asked)
	case err == nil:
		f.putFetched(rel, a, tok)
		l.learn(path.Base(rel))
	}
}
