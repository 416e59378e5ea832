package fs

import (
	"context"
	"sync"

	"github.com/sftpmount/sftpmount/cache"
)

// Many programs stat every name of a directory without listing it: git
// status checks each file of its index, make each target and source,
// rsync's receiver each name it is sent. Cold, that is one round trip per
// name. A listing (four or five round trips) brings every name's
// attributes at once, so after listAfterMisses lookups in one directory
// have missed the cache, the directory is listed and the other lookups,
// including the ones waiting, are answered from it.
//
// Only directories known to be small are listed this way: a few lookups
// in a directory of a hundred thousand names are better answered one by
// one. A directory's size grows with its entries on every common Linux
// filesystem (ext4: a 4 KiB block per 100 or so names).
const (
	listAfterMisses = 3
	listIfAtMost    = 64 << 10 // bytes of directory: some 1 600 names on ext4
)

// statMany counts lookups that missed the cache per directory and lists a
// directory once enough have.
type statMany struct {
	mu      sync.Mutex               // guards listing, and the count and delete of misses together
	misses  *cache.Map[int]          // counted within the cache timeout, bounded like any cache
	listing map[string]chan struct{} // closed when the listing is stored or given up
}

// missed notes a lookup in dir that the cache could not answer and, from
// the listAfterMisses-th on, lists dir (or waits for the listing already
// on its way), within ctx. It reports whether the cache was filled.
func (f *FS) missed(ctx context.Context, dir string) bool {
	if f.opts.Caches.Attr <= 0 || f.opts.Caches.Dir <= 0 {
		return false // nothing would be kept
	}
	if a, ok := f.attrs.Get(dir); !ok || a.Size > listIfAtMost {
		return false
	}
	s := &f.statMany
	s.mu.Lock()
	if s.misses == nil {
		s.misses, s.listing = cache.New[int](f.opts.Caches.Dir), map[string]chan struct{}{}
	}
	wait := s.listing[dir]
	if wait == nil {
		n, _ := s.misses.Get(dir)
		if n+1 < listAfterMisses {
			s.misses.Put(dir, n+1)
			s.mu.Unlock()
			return false
		}
		s.misses.Delete(dir)
		wait = make(chan struct{})
		s.listing[dir] = wait
		s.mu.Unlock()
		f.bg.Go(func(context.Context) {
			// Held-back changes of files in dir go first; a listing
			// made ahead of them would not show them.
			f.quiesce(ctx, sendHeld, paths(inDir(dir)))
			tok := f.changed.Begin()
			entries, err := f.remote.ReadDir(context.WithoutCancel(ctx), dir)
			if err == nil {
				f.remember(dir, entries, tok)
			}
			f.changed.End(tok)
			s.mu.Lock()
			delete(s.listing, dir)
			s.mu.Unlock()
			close(wait)
		})
	} else {
		s.mu.Unlock()
	}
	select {
	case <-wait:
		return true
	case <-ctx.Done():
		return false
	}
}
