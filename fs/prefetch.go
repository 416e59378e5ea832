package fs

import (
	"context"
	"path"

	"github.com/sftpmount/sftpmount/remote"
)

// Recursive walks (ls -R, find, du, rsync) list a directory and then each
// of its subdirectories, one round trip after another. When a directory is
// listed, its subdirectories are listed too, a few at a time in the
// background, so that the walk finds them waiting. Bounded: only the
// first prefetchPerDir subdirectories of each listing, at most
// prefetchParallel requests at once, and a prefetched listing is used once.
const (
	prefetchPerDir   = 32
	prefetchParallel = 4
)

// prefetchSubdirs lists up to prefetchPerDir subdirectories of dir in the
// background, prefetchParallel at a time across the whole mount.
func (f *FS) prefetchSubdirs(dir string, entries []remote.DirEntry) {
	var subs []string
	for _, e := range entries {
		if e.Attr.Mode.IsDir() && e.Name != "." && e.Name != ".." && len(subs) < prefetchPerDir {
			subs = append(subs, path.Join(dir, e.Name))
		}
	}
	if len(subs) == 0 {
		return
	}
	gen := f.changes.Load()
	go func() {
		for _, sub := range subs {
			if _, ok := f.prefetched.Get(sub); ok {
				continue
			}
			f.prefetchSlots <- struct{}{}
			go func() {
				defer func() { <-f.prefetchSlots }()
				got, err := f.remote.ReadDir(context.Background(), sub)
				// A change of ours while the listing was on its way may
				// be missing from it: then it is not kept.
				if err == nil && f.changes.Load() == gen {
					f.prefetched.Put(sub, got)
				}
			}()
		}
	}()
}

// takePrefetched returns (and forgets) a prefetched listing of dir.
func (f *FS) takePrefetched(dir string) ([]remote.DirEntry, bool) {
	entries, ok := f.prefetched.Get(dir)
	if ok {
		f.prefetched.Delete(dir)
	}
	return entries, ok
}
