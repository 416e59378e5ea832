package fs

import (
	"context"
	"path"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// Recursive walks (ls -R, find, du, rsync) list a directory and then each
// of its subdirectories, one round trip after another. When a directory is
// listed, its subdirectories are listed too, several at a time in the
// background, so that the walk finds them waiting — or joins a listing
// already on its way instead of asking twice. Bounded: only the first
// prefetchPerDir subdirectories of each listing, at most prefetchParallel
// listings at once across the mount, one level ahead of what the walk has
// read (a listing handed out from the cache counts), none of a directory
// whose listing is cached, and a prefetched listing is used once. A
// listing is four or five round trips (opendir, readdir until empty,
// close) whatever the latency, so on a slow link a walk goes as fast as
// the listings in flight: 32 covers a level of most trees in one go.
//
// A huge directory is not listed ahead: a listing kept for a walk that
// may never come would hold every name and its attributes (a million
// names: some 100 MB), while the walk that does come streams it to the
// kernel as it arrives.
const (
	prefetchPerDir      = 32
	prefetchParallel    = 32
	prefetchMaxNames    = 20_000
	prefetchMaxDirBytes = 1 << 20 // its size as the server's filesystem tells it; ext4: some 25 000 names
)

// prefetchSubdirs lists up to prefetchPerDir subdirectories of dir in the
// background, prefetchParallel at a time across the whole mount.
func (f *FS) prefetchSubdirs(dir string, entries []remote.DirEntry) {
	var subs []string
	f.prefetchMu.Lock()
	if f.prefetching == nil {
		f.prefetching = map[string]chan struct{}{}
	}
	for _, e := range entries {
		if len(subs) == prefetchPerDir {
			break
		}
		sub := path.Join(dir, e.Name)
		if !e.Attr.Mode.IsDir() || e.Attr.Size > prefetchMaxDirBytes || e.Name == "." || e.Name == ".." || f.prefetching[sub] != nil {
			continue
		}
		if _, ok := f.prefetched.Get(sub); ok {
			continue
		}
		if _, ok := f.listings.Get(sub); ok {
			continue // listed already: the walk finds it in the cache
		}
		f.prefetching[sub] = make(chan struct{})
		subs = append(subs, sub)
	}
	f.prefetchMu.Unlock()
	for _, sub := range subs {
		f.bg.Go(func(ctx context.Context) {
			if f.treeOn() && f.bulkFor(ctx, sub) {
				// Its subtree, asked for in bulk (tree.go): the walk
				// finds sub listed.
				f.prefetchMu.Lock()
				close(f.prefetching[sub])
				delete(f.prefetching, sub)
				f.prefetchMu.Unlock()
				return
			}
			f.prefetchSlots.Acquire(context.Background(), 1) // cannot fail: no deadline
			tok := f.changed.Begin()
			var got []remote.DirEntry
			err := f.remote.ReadDirBatches(ctx, sub, func(batch []remote.DirEntry) bool {
				got = append(got, batch...)
				return len(got) <= prefetchMaxNames
			})
			f.prefetchSlots.Release(1)
			if err == nil && len(got) <= prefetchMaxNames {
				f.keepPrefetched(sub, got, tok)
			}
			f.changed.End(tok)
			f.prefetchMu.Lock()
			close(f.prefetching[sub])
			delete(f.prefetching, sub)
			f.prefetchMu.Unlock()
		})
	}
}

// keepPrefetched stores got, a listing of dir asked once tok began, for
// the walk to take, unless a change of ours while it was on its way, to
// the directory or to one of its entries, may be missing from it: its
// taker answers with its attributes as if just fetched. A change made
// after it is kept drops it (Changes.Dropped).
func (f *FS) keepPrefetched(dir string, got []remote.DirEntry, tok cache.Token) {
	if f.learnedAhead(dir, got, tok) {
		// The walk will be handed these names in this order: a walk
		// reading files fetches the first ones before it gets here
		// (walkahead.go).
		f.orderAhead(dir, got)
	}
}

// orderAhead records the order of dir's entries, listed ahead of a walk
// (here, or in a bulk answer: tree.go), for the walk's fetches ahead.
func (f *FS) orderAhead(dir string, got []remote.DirEntry) {
	var files, dirs []string
	for _, e := range got {
		switch {
		case e.Name == "." || e.Name == "..":
		case e.Attr.Mode.IsRegular():
			files = append(files, e.Name)
		case e.Attr.Mode.IsDir():
			dirs = append(dirs, e.Name)
		}
	}
	f.listedOrder(dir, files, dirs, false)
}

// takePrefetched returns (and forgets) a prefetched listing of dir,
// waiting for one on its way, but no longer than ctx allows.
func (f *FS) takePrefetched(ctx context.Context, dir string) ([]remote.DirEntry, bool) {
	f.prefetchMu.Lock()
	wait := f.prefetching[dir]
	f.prefetchMu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false
		}
	}
	return f.takenAhead(dir)
}

// prefetchedFor reports whether a listing of dir made ahead of a walk is
// kept or on its way.
func (f *FS) prefetchedFor(dir string) bool {
	f.prefetchMu.Lock()
	wait := f.prefetching[dir]
	f.prefetchMu.Unlock()
	_, kept := f.prefetched.Get(dir)
	return wait != nil || kept
}
