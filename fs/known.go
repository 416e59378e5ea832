package fs

import (
	"path"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// What the mount knows of the server lives here: every cache of what it
// was told (attributes, listings, symlink targets, link counts, absent
// names, new files' modes, listings made ahead of a walk) and the record
// of its own changes that each fetched answer is checked against
// (fetch.go). How long each is trusted is Caches'; the README says how
// stale each can be.
//
// A change of ours is recorded with the verbs below, named for what
// happened to a path: touched (its content or attributes), added,
// removed, unsure (a change whose outcome is not known), settled (the
// outcome of a call that makes or removes a name), forget (drop what is
// cached of it). They keep the caches agreeing with each other and with
// the change record; a kernel call uses them rather than one cache alone.

// known is every cache of the mount. FS embeds it.
type known struct {
	attrs      attrCache                     // by path relative to the root (attrcache.go)
	listings   *cache.Map[*listing]          // names in a directory, by its path (listing.go)
	targets    *cache.Map[string]            // symlink targets as the server has them
	prefetched *cache.Map[[]remote.DirEntry] // listings made ahead of a walk (prefetch.go)
	relistable *cache.Map[struct{}]          // directories to list again rather than look names up in (listing.go)
	newFiles   *cache.Map[remote.Attr]       // mode and owner the server gives a new file, by directory (newfile.go)
	links      *cache.Map[uint32]            // link counts from listings (links.go)
	absent     *cache.Map[*absentName]       // what the server said of names not there (absent.go)
	changed    *cache.Changes                // our changes, against which fetched answers are checked (fetch.go)
}

func newKnown(c Caches) known {
	k := known{
		attrs:    newAttrCache(c.Attr, c.Limits),
		listings: cache.NewLimited[*listing](c.Dir, c.Limits),
		targets:  cache.NewLimited[string](c.Link, c.Limits),
		// A prefetched listing holds names and their attributes.
		prefetched: cache.NewLimited[[]remote.DirEntry](min(c.Dir, c.Attr), c.Limits),
		relistable: cache.NewLimited[struct{}](c.Dir, c.Limits),
		newFiles:   cache.NewLimited[remote.Attr](c.Attr, c.Limits),
		// Kept as long as listings, for the sweep (absent.go).
		links:   cache.NewLimited[uint32](c.Attr, c.Limits),
		absent:  cache.NewLimited[*absentName](max(c.Dir, renewWindow(c.Negative)+c.Negative), c.Limits),
		changed: cache.NewChanges(),
	}
	// A listing made ahead of a walk holds its entries' attributes: a
	// change to one drops it, atomically with recording the change.
	prefetched := k.prefetched
	k.changed.Dropped = func(rel string) { prefetched.Delete(parentOf(rel)) }
	return k
}

// putFetched caches a, the server's answer about rel to a question asked
// once tok began, unless a change of ours makes it stale.
func (k *known) putFetched(rel string, a remote.Attr, tok cache.Token) {
	k.changed.Keep(tok, func() { k.attrs.Put(rel, a) }, rel)
}

// touched records a change of ours to rel's content or attributes, once
// it is in effect and before the caller fixes up the cache. A listing of
// its directory made ahead of it is dropped too (Changes.Dropped).
func (k *known) touched(rel string) {
	k.changed.Changed(rel)
}

// added records that rel now exists.
func (k *known) added(rel string) {
	k.changed.Changed(rel, parentOf(rel))
	k.absent.DeleteTree(rel)
	if l, ok := k.listings.Get(parentOf(rel)); ok {
		l.set(path.Base(rel), true)
	}
}

// removed records that rel no longer exists, nor anything below it.
func (k *known) removed(rel string) {
	k.changed.Changed(rel, parentOf(rel))
	k.links.DeleteTree(rel)
	k.prefetched.DeleteTree(rel)
	if l, ok := k.listings.Get(parentOf(rel)); ok {
		l.set(path.Base(rel), false)
	}
	k.listings.DeleteTree(rel)
}

// settled records the outcome of a change that makes (exists) or removes
// rel: known on success, unknown on failure.
func (k *known) settled(rel string, err error, exists bool) {
	// The directory's own mtime and size changed with it (rsync compares
	// directory mtimes to decide whether to set them).
	k.attrs.Delete(parentOf(rel))
	switch {
	case err != nil:
		k.unsure(rel)
	case exists:
		k.added(rel)
	default:
		k.removed(rel)
	}
}

// unsure drops what we know of rel's directory after a change whose
// outcome is not known (it failed, perhaps half-way).
func (k *known) unsure(rel string) {
	k.changed.Changed(rel, parentOf(rel))
	k.absent.DeleteTree(rel)
	k.listings.Delete(parentOf(rel))
}

// madeDir records rel, a directory this mount made with attributes a:
// new, so empty, its names all ours, with two links.
func (k *known) madeDir(rel string, a remote.Attr) {
	k.added(rel)
	k.listings.Put(rel, newDirListing())
	k.links.Put(rel, 2)
	k.attrs.Put(rel, a) // asked with the mkdir: no round trip more
}

// changing records that rel's attributes are being changed: what is
// asked from here on may predate the change, and is not kept. A
// directory's mode or group decides its new files'.
func (k *known) changing(rel string) {
	k.attrs.Delete(rel)
	k.touched(rel)
	k.newFiles.Delete(rel)
}

// forget drops what we know of rel and, for a directory, below it.
func (f *FS) forget(rel string) {
	f.attrs.DeleteTree(rel)
	f.targets.DeleteTree(rel)
	f.newFiles.DeleteTree(rel)
	f.objects.byPath.DeleteTree(rel)
}
