package fs

import (
	"path"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// What the server said, kept (known.go has the caches, and the verbs for
// our own changes). An answer to a question asked once tok began is kept
// unless a change of ours to its path since may be missing from it
// (fetch.go): the learned verbs below take the token and keep what they
// are given atomically with that check (cache.Changes.Keep).

// learnedAttr caches a, the server's answer about rel to a question asked
// once tok began, unless a change of ours makes it stale. It reports
// whether it was kept.
func (k *known) learnedAttr(rel string, a remote.Attr, tok cache.Token) bool {
	return k.learnedAttrWith(rel, a, tok, nil)
}

// learnedAttrWith is learnedAttr that also runs with, if it is kept,
// atomically with keeping it: something else that holds the same answer
// (a node's pages, file.go's knowWritten).
func (k *known) learnedAttrWith(rel string, a remote.Attr, tok cache.Token, with func()) bool {
	return k.changed.Keep(tok, func() {
		k.attrs.Put(rel, a)
		if with != nil {
			with()
		}
	}, rel)
}

// learnedListing caches names as dir's listing, asked once tok began,
// unless a change of ours in dir makes it stale.
func (k *known) learnedListing(dir string, names []string, tok cache.Token) {
	k.changed.Keep(tok, func() { k.listings.Put(dir, newListing(names)) }, dir)
}

// learnedLinks keeps the link count a listing asked once tok began told
// for rel (in a, its attributes), unless a change of ours makes it stale.
// A file's count of one is what showLinks says anyway: a directory of a
// million files keeps no count for each, and drops one it had.
func (k *known) learnedLinks(rel string, a remote.Attr, tok cache.Token) {
	switch {
	case a.Nlink == 1 && !a.Mode.IsDir():
		if _, ok := k.links.Get(rel); ok {
			k.changed.Keep(tok, func() { k.links.Delete(rel) }, rel)
		}
	case a.Nlink > 0:
		k.changed.Keep(tok, func() { k.links.Put(rel, a.Nlink) }, rel)
	}
}

// learnedAhead keeps got, a listing of dir made ahead of a walk and
// asked once tok began, unless a change of ours to dir or to one of its
// entries makes it stale. It reports whether it was kept.
func (k *known) learnedAhead(dir string, got []remote.DirEntry, tok cache.Token) bool {
	paths := []string{dir}
	for _, e := range got {
		if e.Name != "." && e.Name != ".." {
			paths = append(paths, path.Join(dir, e.Name))
		}
	}
	return k.changed.Keep(tok, func() { k.prefetched.Put(dir, got) }, paths...)
}

// takenAhead returns and forgets a listing of dir made ahead of a walk:
// the one listing of dir that uses it takes it.
func (k *known) takenAhead(dir string) ([]remote.DirEntry, bool) {
	entries, ok := k.prefetched.Get(dir)
	if ok {
		k.prefetched.Delete(dir)
	}
	return entries, ok
}

// foundPresent records that rel, a name the server had said was absent,
// now exists with attributes a, asked once tok began: it is no longer
// absent, its attributes are kept under the usual rule, and it joins its
// directory's listing.
func (k *known) foundPresent(rel string, a remote.Attr, tok cache.Token) {
	k.absent.Delete(rel)
	k.learnedAttr(rel, a, tok)
	k.foundName(parentOf(rel), path.Base(rel))
}

// foundName records that the server has name in dir, found since dir's
// listing was read: the listing, if one is kept, shows it.
func (k *known) foundName(dir, name string) {
	if l, ok := k.listings.Get(dir); ok {
		l.learn(name)
	}
}

// answerHolds reports whether an answer about rel asked once tok began
// is still good: no change of ours since may be missing from it. It
// keeps nothing.
func (k *known) answerHolds(rel string, tok cache.Token) bool {
	return k.changed.Keep(tok, func() {}, rel)
}

// learnedTarget caches the target of the symlink rel as the server has
// it. A symlink cannot change in place: only our own remove or rename
// (which forget it) or another client can replace it, and the cache
// timeout bounds that.
func (k *known) learnedTarget(rel, target string) {
	k.targets.Put(rel, target)
}

// learnedNewFiles keeps a, the mode and owner the server gave a file just
// made in dir, for the next file made there (newfile.go).
func (k *known) learnedNewFiles(dir string, a remote.Attr) {
	k.newFiles.Put(dir, a)
}

// newFilesChanged drops what was learned of dir's new files: the server
// made one otherwise, and the next create learns again.
func (k *known) newFilesChanged(dir string) {
	k.newFiles.Delete(dir)
}
