package fs

import (
	"path"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// What the mount knows of the server lives here: every cache of what it
// was told (attributes, listings, symlink targets, link counts, absent
// names, new files' modes, listings made ahead of a walk) and the record
// of its own changes that each fetched answer is checked against
// (fetch.go). How long each is trusted is Caches'; docs/caches.md says
// how stale each can be.
//
// The caches change only through verbs named for what happened, so that
// they keep agreeing with each other and with the change record; a kernel
// call uses them rather than one cache alone. Here, a change of ours to a
// path: touched (its content or attributes), wrote (its data, up to an
// end), added, removed, unsure (a change whose outcome is not known),
// settled (the outcome of a call that makes or removes a name), madeDir,
// changing (attributes on their way), attrIs (what a call of ours made
// them), staleAttr (what is cached of them is not to be trusted), forget
// (drop what is cached of it); and the link counts our link, unlink,
// mkdir, rmdir and rename move on (hardLinked, linkGone, subdirs,
// renamedLinks). In learned.go, what the server said: answers kept
// against the token of the question unless a change of ours since makes
// them stale (learnedAttr, learnedListing, learnedLinks, learnedAhead,
// foundPresent), and those no change of ours can make stale
// (learnedTarget, learnedNewFiles).
//
// Reads (Get) go to the caches directly, and so do the tokens of the
// questions (changed.Begin, End). Two files keep their own puts, because
// their cache is bookkeeping only they use, not a fact about the server
// that another cache must agree with, and a verb would only add a call:
// absent.go's renewal record (absentName, usedAbsent, and confirmAbsent's
// time of the server's answer) and listing.go's relistable (directories
// being filled, counted by their lookups). Not caches of known, and so
// not changed here: prefetch.go's listings in flight, walkahead.go's
// files opened ahead, and objects.go's table of which object a path is
// (identity's, under its own lock; forget drops its paths).

// known is every cache of the mount. FS embeds it.
type known struct {
	attrs      attrCache                     // by path relative to the root (attrcache.go)
	listings   *cache.Map[*listing]          // names in a directory, by its path (listing.go)
	targets    *cache.Map[string]            // symlink targets as the server has them
	prefetched *cache.Map[[]remote.DirEntry] // listings made ahead of a walk (prefetch.go)
	relistable *cache.Map[struct{}]          // directories to list again rather than look names up in (listing.go)
	newFiles   *cache.Map[remote.Attr]       // mode and owner the server gives a new file, by directory (newfile.go)
	links      *cache.Map[uint32]            // link counts from listings, moved on by ours (below)
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

// wrote updates the cached attributes of rel after our own write up to
// end, so that a stat during a copy needs no round trip. The server's
// mtime is learned again once the file is closed (release forgets it).
//
// Touched first, even with nothing cached: a stat answered before the
// write was queued, and about to be stored, is then refused, or stored
// before the cache is looked at here and raised to end.
func (k *known) wrote(rel string, end uint64) {
	k.touched(rel)
	a, ok := k.attrs.Get(rel)
	if !ok {
		return
	}
	if end > a.Size {
		a.Size = end
	}
	a.Mtime = time.Unix(time.Now().Unix(), 0)
	k.attrs.Put(rel, a)
}

// attrIs records a as rel's attributes, as a call of ours made or was
// just told them (a create, a setattr, a held change, an upload, the
// root stat'ed at mount), with no change of ours since to check against.
func (k *known) attrIs(rel string, a remote.Attr) {
	k.attrs.Put(rel, a)
}

// staleAttr drops what is cached of rel's attributes: they are an
// estimate of ours, or the server changed them, and the next stat asks.
func (k *known) staleAttr(rel string) {
	k.attrs.Delete(rel)
}

// Link counts. SFTP v3's attributes carry none; OpenSSH's READDIR replies
// do, in each name's ls -l style long name, which the listing keeps in
// Attr.Nlink (learnedLinks). links holds them by path for the attribute
// cache's timeout, so that attributes fetched again by name (lstat tells
// no count) still show it, and our own link, unlink, mkdir, rmdir and
// rename move it on. Another client's links show at the next listing,
// within the attribute timeout. Where no listing has told, st_nlink is
// the names this mount knows the node by: 1, or more for links made
// through it (showLinks).

// withLinks is a with the link count the last listing told, as our own
// changes since have moved it on.
func (k *known) withLinks(rel string, a remote.Attr) remote.Attr {
	if n, ok := k.links.Get(rel); ok {
		a.Nlink = n
	}
	return a
}

// hardLinked moves the count of existing on by one, for rel, a link to
// it just made, and gives rel the same count.
func (k *known) hardLinked(existing, rel string) {
	if n, ok := k.links.Get(existing); ok {
		k.links.Put(existing, n+1)
		k.links.Put(rel, n+1)
	}
}

// linkGone notes that a name of a file also known at others, whose count
// was n, was removed: their count is one less.
func (k *known) linkGone(n uint32, others []string) {
	if n < 2 {
		return
	}
	for _, p := range others {
		k.links.Put(p, n-1)
	}
}

// subdirs moves dir's count on by delta: a subdirectory made or removed
// (its ".." is a link to dir).
func (k *known) subdirs(dir string, delta int) {
	if n, ok := k.links.Get(dir); ok && int(n)+delta >= 2 {
		k.links.Put(dir, uint32(int(n)+delta))
	}
}

// renamedLinks moves link counts with a rename of from to to that
// succeeded: from's count n, if counted (read before the rename settled,
// which drops it), is to's now; a directory moved to another parent
// takes its ".." from the old parent to the new.
func (k *known) renamedLinks(from, to string, n uint32, counted, dir bool) {
	if counted {
		k.links.Put(to, n)
	}
	if dir && parentOf(from) != parentOf(to) {
		k.subdirs(parentOf(from), -1)
		k.subdirs(parentOf(to), +1)
	}
}
