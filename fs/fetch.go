package fs

import (
	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// What a writer knows wins. Every answer of the server that is cached
// (a lookup's stat, a listing's names and attributes, a prefetch) is
// checked against the changes this mount made while it was on its way
// (cache.Changes): an answer asked before a write, truncate, setattr,
// create, rename or unlink of the path, or of a directory above it, may
// predate that change on the server, so it is dropped and what the
// change established stays. A file with writes in flight, or held back
// as a new file's are (pending.go), takes no fetched attributes at all:
// its size and mtime are what this mount sent, until every write has
// landed. Each write that lands counts as a change again, for the
// answers asked while it was on its way.

// fetchAttr asks the server for rel's attributes with ask and caches the
// answer. The kernel takes the size in the answer as the file's (it drops
// pages past it): for a file with writes on their way, which the kernel
// was told are done, the answer must include them. So those land first,
// and should one be queued while the question was on its way, what this
// mount knows is answered instead.
func (f *FS) fetchAttr(rel string, ask func() (remote.Attr, error)) (remote.Attr, error) {
	if f.busy(rel) {
		f.landWrites(rel)
	}
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	a, err := ask()
	if err != nil {
		return a, err
	}
	if f.changed.Stale(rel, tok) {
		if ours, ok := f.attrs.Get(rel); ok {
			return ours, nil
		}
		return a, nil
	}
	f.attrs.Put(rel, a)
	return a, nil
}

// landWrites waits for the writes of every handle opened at rel. Their
// errors stay with the handles, which report them.
func (f *FS) landWrites(rel string) {
	f.pendingMu.Lock()
	hs := make([]*fileHandle, 0, len(f.writers[rel]))
	for h := range f.writers[rel] {
		hs = append(hs, h)
	}
	f.pendingMu.Unlock()
	for _, h := range hs {
		h.flush()
	}
}

// putFetched caches a, the server's answer about rel to a question asked
// once tok began, unless a change of ours makes it stale.
func (f *FS) putFetched(rel string, a remote.Attr, tok cache.Token) {
	if !f.changed.Stale(rel, tok) {
		f.attrs.Put(rel, a)
	}
}

// touched records a change of ours to rel's content or attributes. A
// listing of its directory made ahead of it is dropped too.
func (f *FS) touched(rel string) {
	f.changed.Changed(rel)
	f.prefetched.Delete(parentOf(rel))
}

// busy reports whether a handle opened at rel has writes on their way or
// holds a new file's changes back.
func (f *FS) busy(rel string) bool {
	f.pendingMu.Lock()
	defer f.pendingMu.Unlock()
	for h := range f.writers[rel] {
		if h.later != nil || h.appending.Load() > 0 || (h.wb != nil && h.wb.Pending()) {
			return true
		}
	}
	return false
}

// addWriter and dropWriter keep the writable handles by path, for busy.
func (f *FS) addWriter(h *fileHandle) {
	f.pendingMu.Lock()
	defer f.pendingMu.Unlock()
	if f.writers[h.rel] == nil {
		f.writers[h.rel] = map[*fileHandle]struct{}{}
	}
	f.writers[h.rel][h] = struct{}{}
}

func (f *FS) dropWriter(h *fileHandle) {
	f.pendingMu.Lock()
	defer f.pendingMu.Unlock()
	delete(f.writers[h.rel], h)
	if len(f.writers[h.rel]) == 0 {
		delete(f.writers, h.rel)
	}
}
