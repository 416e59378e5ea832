package fs

import (
	"path"
	"sort"
	"sync"

	"github.com/sftpmount/sftpmount/remote"
)

// listing is the set of names in a directory, learned from a readdir or
// known because we just made the directory, and kept up to date with our
// own changes. Within the cache timeout it answers "no such name" without
// a round trip: tar and cp -r look up every name before creating it.
type listing struct {
	mu    sync.Mutex // guards names
	names map[string]struct{}
}

func newListing(names []string) *listing {
	l := &listing{names: make(map[string]struct{}, len(names))}
	for _, n := range names {
		l.names[n] = struct{}{}
	}
	return l
}

func (l *listing) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.names[name]
	return ok
}

func (l *listing) set(name string, present bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if present {
		l.names[name] = struct{}{}
	} else {
		delete(l.names, name)
	}
}

func (l *listing) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.names))
	for n := range l.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// cachedListing rebuilds dir's listing from the cache: its names (kept up
// to date with our own changes) and each name's attributes. A single name
// whose attributes have expired or were dropped means asking the server.
func (f *FS) cachedListing(dir string) ([]remote.DirEntry, bool) {
	l, ok := f.listings.Get(dir)
	if !ok {
		return nil, false
	}
	names := l.sorted()
	entries := make([]remote.DirEntry, 0, len(names))
	for _, name := range names {
		a, ok := f.attrs.Get(path.Join(dir, name))
		if !ok {
			return nil, false
		}
		entries = append(entries, remote.DirEntry{Name: name, Attr: a})
	}
	return entries, true
}

func parentOf(rel string) string { return cleanRel(path.Dir(rel)) }

// knownAbsent reports that rel's directory was listed recently and rel
// was not in it.
func (f *FS) knownAbsent(rel string) bool {
	l, ok := f.listings.Get(parentOf(rel))
	return ok && !l.has(path.Base(rel))
}

// added records that rel now exists.
func (f *FS) added(rel string) {
	f.changes.Add(1)
	f.prefetched.Delete(parentOf(rel))
	if l, ok := f.listings.Get(parentOf(rel)); ok {
		l.set(path.Base(rel), true)
	}
}

// removed records that rel no longer exists, nor anything below it.
func (f *FS) removed(rel string) {
	f.changes.Add(1)
	f.prefetched.Delete(parentOf(rel))
	f.prefetched.DeleteTree(rel)
	if l, ok := f.listings.Get(parentOf(rel)); ok {
		l.set(path.Base(rel), false)
	}
	f.listings.DeleteTree(rel)
}

// settled records the outcome of a change that makes (exists) or removes
// rel: known on success, unknown on failure.
func (f *FS) settled(rel string, err error, exists bool) {
	// The directory's own mtime and size changed with it (rsync compares
	// directory mtimes to decide whether to set them).
	f.attrs.Delete(parentOf(rel))
	switch {
	case err != nil:
		f.unsure(rel)
	case exists:
		f.added(rel)
	default:
		f.removed(rel)
	}
}

// unsure drops what we know of rel's directory after a change whose
// outcome is not known (it failed, perhaps half-way).
func (f *FS) unsure(rel string) {
	f.changes.Add(1)
	f.listings.Delete(parentOf(rel))
	f.prefetched.Delete(parentOf(rel))
}
