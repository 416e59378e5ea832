package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// errKnownAbsent is a lookup answered without a round trip, from a fresh
// directory listing or the server's fresh answer about the name.
var errKnownAbsent = fmt.Errorf("known absent: %w", syscall.ENOENT)

// Lookup resolves a name in a directory. After a readdir the attributes are
// in the cache, so `ls -l` costs one round trip per directory, not per name.
func (n *Node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	ch, errno := n.lookup(ctx, name, out)
	if errno == syscall.ENOENT {
		n.dropName(name) // gone on the server: a new object there is another one
	}
	return ch, errno
}

func (n *Node) lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	rel := n.child(name)
	if a, ok := n.fs.writeback.Attr(rel); ok {
		n.fs.result("lookup (journal)", rel, nil, nil)
		return n.newChild(ctx, name, a, false, out), 0
	}
	began := time.Now()
	if n.fs.knownAbsent(rel, began) || (n.relisted(ctx, rel) && n.fs.knownAbsent(rel, began)) {
		return nil, n.fs.result("lookup", rel, errKnownAbsent, nil)
	}
	if _, cached := n.fs.attrs.Get(rel); !cached && (n.fs.bulkFor(ctx, n.rel()) || n.fs.missed(ctx, n.rel())) && n.fs.knownAbsent(rel, began) {
		return nil, n.fs.result("lookup", rel, errKnownAbsent, nil)
	}
	if n.fs.awaitAsked(ctx, rel) && n.fs.knownAbsent(rel, began) {
		return nil, n.fs.result("lookup", rel, errKnownAbsent, nil) // asked again just now
	}
	if _, cached := n.fs.attrs.Get(rel); !cached {
		n.fs.sweepAbsent(rel) // if its answer expired, the others' may have: ask for them at once
	}
	asked, tok := time.Now(), n.fs.changed.Begin()
	a, err := n.fs.lookupAttr(ctx, rel)
	if errors.Is(err, os.ErrNotExist) {
		n.fs.confirmAbsent(rel, asked, tok)
		n.fs.usedAbsent(rel)
	}
	n.fs.changed.End(tok)
	if err != nil {
		return nil, n.fs.result("lookup", rel, err, nil)
	}
	n.fs.foundName(n.rel(), name) // made since the listing was read: ls shows what lookup found
	if errno := n.fs.opts.Owner.check(a); errno != 0 {
		return nil, n.fs.result("lookup", rel, errno, nil) // nomap=error
	}
	// A file with links that may be one file with another name: which
	// it is, and which those are (objects.go).
	if ask := n.toIdentify(rel, name, a); len(ask) > 0 {
		n.fs.identify(ctx, ask)
		n.fs.confirmPlaces(ctx, rel)
	}
	return n.newChild(ctx, name, a, false, out), 0
}

// lookupAttr is lstat, or with follow_symlinks stat, falling back to the
// link itself when its target is missing or loops (as sshfs shows them).
func (f *FS) lookupAttr(ctx context.Context, rel string) (remote.Attr, error) {
	if !f.opts.FollowSymlinks {
		return f.lstat(ctx, rel)
	}
	if a, ok := f.attrs.Get(rel); ok {
		return a, nil
	}
	f.quiesce(ctx, sendHeld, paths(at(rel)))
	a, err := f.fetchAttr(rel, func() (remote.Attr, error) { return f.remote.Stat(ctx, rel) })
	if err != nil {
		if la, lerr := f.remote.Lstat(ctx, rel); lerr == nil && la.Mode&os.ModeSymlink != 0 {
			return la, nil
		}
	}
	return a, err
}
