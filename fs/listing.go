package fs

import (
	"context"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// listing is the set of names in a directory, learned from a readdir or
// known because we just made the directory, and kept up to date with our
// own changes. It answers "no such name" without a round trip, but only
// for Caches.Negative since it was made or since our last change there:
// another client's new file is found within that, while tar, cp -r and
// git checkout, which look up every name before creating it, keep
// changing the directory and so keep being answered at once.
type listing struct {
	mu    sync.Mutex // guards names
	names map[string]struct{}

	absent atomic.Int64 // names answered absent from it, each counted once
	fresh  atomic.Int64 // when it was made or last changed by us, in Unix nanoseconds

}

func newListing(names []string) *listing {
	l := &listing{names: make(map[string]struct{}, len(names))}
	for _, n := range names {
		l.names[n] = struct{}{}
	}
	l.fresh.Store(time.Now().UnixNano())
	return l
}

// answersAbsent reports whether a name missing from l may be answered
// absent, within negative.
func (l *listing) answersAbsent(negative time.Duration) bool {
	return time.Since(time.Unix(0, l.fresh.Load())) < negative
}

func (l *listing) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.names[name]
	return ok
}

// learn adds a name the server has, which the listing lacked: unlike set
// it says nothing of the other names.
func (l *listing) learn(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names[name] = struct{}{}
}

func (l *listing) set(name string, present bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if present {
		l.names[name] = struct{}{}
	} else {
		delete(l.names, name)
	}
	l.fresh.Store(time.Now().UnixNano())
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
		a, ok := f.wb.attr(path.Join(dir, name))
		if !ok {
			a, ok = f.attrs.Get(path.Join(dir, name))
		}
		if !ok {
			return nil, false
		}
		entries = append(entries, remote.DirEntry{Name: name, Attr: a})
	}
	return entries, true
}

func parentOf(rel string) string { return cleanRel(path.Dir(rel)) }

// knownAbsent reports that rel is known absent: its directory was listed,
// or changed by us, within Caches.Negative and rel was not in it, or the
// server said rel was absent within Caches.Negative (absent.go).
func (f *FS) knownAbsent(rel string) bool {
	dir := parentOf(rel)
	l, listed := f.listings.Get(dir)
	if listed && l.has(path.Base(rel)) {
		return false
	}
	if !(listed && l.answersAbsent(f.opts.Caches.Negative)) && !f.confirmedAbsent(rel) {
		return false
	}
	if first := f.usedAbsent(rel); listed && first && l.absent.Add(1) >= relistCost(l) {
		f.relistable.Put(dir, struct{}{})
	}
	return true
}

// relistCost is what listing l's directory again costs, in round trips:
// an open, a close and an end, and OpenSSH sends 100 names a reply.
func relistCost(l *listing) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return 3 + int64(len(l.names))/100
}

// A directory whose listing has answered more distinct absent names than
// listing it again costs is one being filled, by tar, cp -r or rsync:
// each file is looked up before it is created. (The same few names asked
// on every run, as git status asks .gitignore, are renewed instead:
// absent.go.) When its listing
// expires, the next lookup of a name not in the cache lists it again
// instead of asking for that one name, so the lookups that follow cost
// no round trip again. relisted reports whether it did. (The kernel holds
// the directory's lock during a lookup, so no change of ours in it can
// be missing from the new listing.)
func (n *Node) relisted(ctx context.Context, rel string) bool {
	dir := parentOf(rel)
	if _, busy := n.fs.relistable.Get(dir); !busy {
		return false
	}
	if l, ok := n.fs.listings.Get(dir); ok && (l.has(path.Base(rel)) || l.answersAbsent(n.fs.opts.Caches.Negative)) {
		return false // listed, and rel not known absent from it
	}
	if _, ok := n.fs.attrs.Get(rel); ok {
		return false // answered from the cache anyway
	}
	n.fs.relistable.Delete(dir)
	_, err := n.listRemote(ctx, dir, false)
	return err == nil
}

// added records that rel now exists.
func (f *FS) added(rel string) {
	f.changed.Changed(rel, parentOf(rel))
	f.absent.DeleteTree(rel)
	if l, ok := f.listings.Get(parentOf(rel)); ok {
		l.set(path.Base(rel), true)
	}
}

// removed records that rel no longer exists, nor anything below it.
func (f *FS) removed(rel string) {
	f.changed.Changed(rel, parentOf(rel))
	f.links.DeleteTree(rel)
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
	f.changed.Changed(rel, parentOf(rel))
	f.absent.DeleteTree(rel)
	f.listings.Delete(parentOf(rel))
}
