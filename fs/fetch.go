package fs

import (
	"context"

	"github.com/sftpmount/sftpmount/remote"
)

// What a writer knows wins. Every answer of the server that is cached
// (a lookup's stat, a listing's names and attributes, a prefetch) is
// checked against the changes this mount made while it was on its way
// (cache.Changes): an answer asked before a write, truncate, setattr,
// create, rename or unlink of the path, or of a directory above it, may
// predate that change on the server, so it is dropped and what the
// change established stays. A file with writes in flight, or held back
// as a new file's are (held.go), takes no fetched attributes at all:
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
	for try := 0; ; try++ {
		if f.busy(rel) {
			f.quiesce(context.Background(), landWrites, paths(at(rel)))
		}
		a, stale, err := f.ask(rel, ask)
		if err != nil || !stale {
			return a, err
		}
		if ours, ok := f.attrs.Get(rel); ok {
			return ours, nil
		}
		// Nothing of ours to answer with (a file opened O_TRUNC has no
		// cached attributes while it is written): ask again once what
		// was queued meanwhile has landed. A writer that never pauses
		// gets the last answer, not cached, and never shorter than its
		// writes reach: the kernel would cut the file there.
		if try == 2 {
			a.Size = max(a.Size, uint64(f.writtenEnd(rel)))
			return a, nil
		}
	}
}

// ask runs ask once under a token and caches the answer unless stale.
func (f *FS) ask(rel string, ask func() (remote.Attr, error)) (a remote.Attr, stale bool, err error) {
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	if a, err = ask(); err != nil {
		return a, false, err
	}
	kept := f.learnedAttr(rel, a, tok)
	return a, !kept, nil
}
