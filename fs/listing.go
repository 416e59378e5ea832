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
// own changes. It answers "no such name" without a round trip only while
// this mount is filling the directory: within Caches.Negative of our
// making it or of our last change there. tar, cp -r, unzip and git
// checkout, which look up every name before creating it, keep changing
// the directory and so keep being answered at once. A listing merely read
// says nothing, a moment later, of a name another client has made since
// (sshfs's own suite lists, creates on the server and opens at once):
// such a name is asked about, unless this mount was told of that very
// name (absent.go), or the listing was read for that very lookup.
type listing struct {
	mu    sync.Mutex // guards names
	names map[string]struct{}

	absent atomic.Int64 // names answered absent from it, each counted once
	ours   atomic.Int64 // when we made the directory or last changed it, in Unix nanoseconds; 0: never
	read   atomic.Int64 // when the server gave it, in Unix nanoseconds; 0: we made the directory
}

// newListing is a listing the server gave just now.
func newListing(names []string) *listing {
	l := &listing{names: make(map[string]struct{}, len(names))}
	for _, n := range names {
		l.names[n] = struct{}{}
	}
	l.read.Store(time.Now().UnixNano())
	return l
}

// newDirListing is the listing of a directory we have just made: empty,
// and being filled by us.
func newDirListing() *listing {
	l := &listing{names: map[string]struct{}{}}
	l.ours.Store(time.Now().UnixNano())
	return l
}

// answersAbsent reports whether a name missing from l may be answered
// absent, within negative: we are filling its directory.
func (l *listing) answersAbsent(negative time.Duration) bool {
	return time.Since(time.Unix(0, l.ours.Load())) < negative
}

// readSince reports whether the server gave l at or after t.
func (l *listing) readSince(t time.Time) bool {
	return !t.IsZero() && l.read.Load() >= t.UnixNano()
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
	l.ours.Store(time.Now().UnixNano())
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
		a, ok := f.writeback.Attr(path.Join(dir, name))
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

// knownAbsent reports that rel is known absent: rel is not in its
// directory's listing and we are filling that directory (listing), or
// the listing was read at or after asked (the lookup that began then
// caused it), or the server said rel was absent within Caches.Negative
// (absent.go). A listing read for the lookup counts as the server's
// answer about that name.
func (f *FS) knownAbsent(rel string, asked time.Time) bool {
	dir := parentOf(rel)
	l, listed := f.listings.Get(dir)
	if listed && l.has(path.Base(rel)) {
		return false
	}
	switch {
	case listed && l.answersAbsent(f.opts.Caches.Negative):
	case listed && l.readSince(asked):
		f.absentName(rel).confirmed.Store(l.read.Load())
	case f.confirmedAbsent(rel):
	default:
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
