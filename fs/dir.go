package fs

import (
	"context"
	"os"
	"path"
	"strings"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/fs/writeback"
	"github.com/sftpmount/sftpmount/remote"
)

// listRemote lists rel on the server (or takes the listing prefetched for
// it) and caches the names and every entry's attributes. For a walk
// (readdir), the subdirectories are listed ahead too.
func (n *Node) listRemote(ctx context.Context, rel string, walk bool) ([]remote.DirEntry, error) {
	// Held-back changes of files in rel go first; a listing made ahead
	// of them would not show them.
	sent := n.fs.quiesce(ctx, sendHeld, paths(inDir(rel)))
	tok := n.fs.changed.Begin()
	defer n.fs.changed.End(tok)
	entries, ok := n.fs.takePrefetched(ctx, rel)
	if !ok || sent {
		var err error
		if entries, err = n.fs.remote.ReadDir(ctx, rel); err != nil {
			return nil, err
		}
	}
	if walk {
		// The walk has reached rel: list its subdirectories ahead of it.
		n.fs.prefetchSubdirs(rel, entries)
	}
	return n.fs.remember(rel, entries, tok), nil
}

// remember caches a listing of dir that the server gave after tok began:
// its names and every entry's attributes, those our changes since have
// not made stale (fetch.go). It returns the entries less "." and "..".
func (f *FS) remember(dir string, entries []remote.DirEntry, tok cache.Token) []remote.DirEntry {
	kept := f.keepAttrs(dir, entries, tok)
	kept = f.withSpooled(dir, kept)
	names := make([]string, 0, len(kept))
	for _, e := range kept {
		names = append(names, e.Name)
	}
	f.learnedListing(dir, names, tok)
	return kept
}

// keepAttrs caches the attributes and link counts of entries of dir, a
// listing asked once tok began, and returns them less "." and "..".
func (f *FS) keepAttrs(dir string, entries []remote.DirEntry, tok cache.Token) []remote.DirEntry {
	kept := entries[:0:0]
	for _, e := range entries {
		if e.Name == "." || e.Name == ".." || strings.HasPrefix(e.Name, writeback.TempPrefix) {
			continue
		}
		if a, ok := f.writeback.Attr(path.Join(dir, e.Name)); ok {
			e.Attr = a // ours waits in the journal (package writeback)
		} else if e.Attr.Mode&os.ModeSymlink == 0 || !f.opts.FollowSymlinks {
			// A followed link's attributes are its target's: lookup asks.
			rel := path.Join(dir, e.Name)
			f.learnedAttr(rel, e.Attr, tok)
			f.learnedLinks(rel, e.Attr, tok)
		}
		kept = append(kept, e)
	}
	f.identifyAhead(dir, kept)
	return kept
}

// Mkdir creates a directory. The kernel has already applied the umask.
func (n *Node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	rel := n.child(name)
	n.fs.forget(rel)
	a, err := n.fs.remote.MkdirAttr(ctx, rel, goMode(mode))
	if err != nil {
		n.fs.unsure(rel)
		return nil, n.fs.result("mkdir", rel, err, n.explainCreate(ctx, rel))
	}
	n.fs.madeDir(rel, a)
	n.fs.subdirs(n.rel(), +1)
	n.fs.result("mkdir", rel, nil, nil)
	return n.newChild(ctx, name, a, true, out), 0
}

// Rmdir removes an empty directory.
func (n *Node) Rmdir(ctx context.Context, name string) syscall.Errno {
	rel := n.child(name)
	defer n.fs.forget(rel)
	n.fs.quiesce(ctx, uploadJournal, paths(under(rel))) // files of ours in it: ENOTEMPTY, from the server
	if n.fs.writeback.Any(func(p string) bool { return strings.HasPrefix(p, rel+"/") }) {
		return n.fs.result("rmdir", rel, syscall.ENOTEMPTY, nil) // one the server refused, kept in the journal
	}
	err := n.fs.remote.Rmdir(ctx, rel)
	n.fs.settled(rel, err, false)
	if err == nil {
		n.dropName(name)
		n.fs.subdirs(n.rel(), -1)
	}
	return n.fs.result("rmdir", rel, err, n.explainRemoveDir(ctx, rel))
}

// Unlink removes a file or symlink.
func (n *Node) Unlink(ctx context.Context, name string) syscall.Errno {
	rel := n.child(name)
	if wf := n.fs.writeback.Get(rel); wf != nil {
		if n.unlinkSpooled(name, wf) {
			return 0
		}
		n.fs.quiesce(ctx, uploadJournal, paths(at(rel))) // uploading: removed on the server once there
	}
	defer n.fs.forget(rel)
	// Held changes go by path: not to another file made there next. A
	// handle opened without asking opens the file before it loses its
	// name. The journal was waited for above, only if it had the file.
	n.fs.quiesce(ctx, sendHeld|openLazy, paths(at(rel)))
	others := n.otherNames(name)
	k, _ := n.fs.links.Get(rel) // 0: no listing told
	err := n.fs.remote.Remove(ctx, rel)
	n.fs.settled(rel, err, false)
	if err == nil {
		n.fs.writeback.Removed(rel)
		n.dropName(name)
		n.fs.linkGone(k, others)
	}
	return n.fs.result("unlink", rel, err, nil)
}
