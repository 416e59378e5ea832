package fs

import (
	"context"
	"path"
	"strings"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
)

// renameat2 flags (linux/fs.h).
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
)

// Rename moves a name, replacing an existing target atomically (OpenSSH's
// posix-rename). RENAME_NOREPLACE is honoured with a check first;
// RENAME_EXCHANGE has no SFTP form and gets EINVAL, which tells tools
// such as mv to fall back to a plain rename.
func (n *Node) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	from := n.child(name)
	to := newParent.EmbeddedInode().Operations().(*Node).child(newName)
	if flags&renameExchange != 0 {
		return n.fs.result("rename", from, syscall.EINVAL, nil)
	}
	if strings.HasPrefix(to, from+"/") {
		return n.fs.result("rename", from, syscall.EINVAL, nil)
	}
	np := newParent.EmbeddedInode().Operations().(*Node)
	if wf := n.fs.writeback.Get(from); wf != nil {
		if errno, ok := n.renameSpooled(from, to, wf, np, name, newName, flags); ok {
			return errno
		}
	}
	if flags&renameNoReplace != 0 {
		if _, ok := n.fs.writeback.Attr(to); ok {
			return n.fs.result("rename", from, syscall.EEXIST, nil)
		}
		if _, err := n.fs.remote.Lstat(ctx, to); err == nil {
			return n.fs.result("rename", from, syscall.EEXIST, nil)
		}
	}
	defer n.fs.forget(from)
	defer n.fs.forget(to)
	// Held-back changes go by path: to the file at its old name first.
	// Ours waiting in the journal land before the rename moves them, or
	// replaces them. Handles opened without asking open before the names
	// change. Queued writes need not land: they go through their handles.
	n.fs.quiesce(ctx, sendHeld|uploadJournal|openLazy, paths(under(from)), paths(under(to)))
	// Settled after a lost connection (remote/settle.go), against the
	// source's attributes: those the kernel's lookup of it cached, else
	// an lstat first.
	a, known := n.fs.attrs.Get(from)
	var err error
	if known {
		err = n.fs.remote.RenameKnown(ctx, from, to, a)
	} else {
		err = n.fs.remote.Rename(ctx, from, to)
	}
	k, counted := n.fs.links.Get(from)
	n.fs.settled(from, err, false)
	n.fs.settled(to, err, true)
	if err == nil {
		n.fs.writeback.Renamed(from, to)
		n.fs.moved(n, name, newParent.EmbeddedInode().Operations().(*Node), newName)
		n.fs.renamedLinks(from, to, k, counted, known && a.Mode.IsDir())
	} else if _, answered := statusCode(err); !answered {
		// Cut off (a lost connection): the server may have renamed.
		// The kernel is told to look both names up again, once this
		// request, which holds its directory locks, has returned.
		n.fs.bg.Go(func(context.Context) { n.NotifyEntry(name) })
		n.fs.bg.Go(func(context.Context) { newParent.EmbeddedInode().NotifyEntry(newName) })
	}
	return n.fs.result("rename", from+" -> "+to, err, n.explainRename(ctx, from, to))
}

// explainCrossDevice: are from and to on different server filesystems?
// Then the answer is EXDEV, which tells mv to copy and delete instead.
func (n *Node) explainCrossDevice(ctx context.Context, from, to string) syscall.Errno {
	src, err1 := n.fs.remote.StatFS(ctx, cleanRel(path.Dir(from)))
	dst, err2 := n.fs.remote.StatFS(ctx, cleanRel(path.Dir(to)))
	if err1 == nil && err2 == nil && src.FSID != dst.FSID {
		return syscall.EXDEV
	}
	return 0
}

// explainRename finds why a rename failed with SSH_FX_FAILURE.
func (n *Node) explainRename(ctx context.Context, from, to string) func() syscall.Errno {
	return func() syscall.Errno {
		src, err := n.fs.remote.Lstat(ctx, from)
		if err != nil {
			return errnoOf(err)
		}
		if e := n.explainCrossDevice(ctx, from, to); e != 0 {
			return e
		}
		dst, err := n.fs.remote.Lstat(ctx, to)
		if err != nil {
			return n.explainNoSpace(ctx, path.Dir(to))()
		}
		switch {
		case src.Mode.IsDir() && !dst.Mode.IsDir():
			return syscall.ENOTDIR
		case !src.Mode.IsDir() && dst.Mode.IsDir():
			return syscall.EISDIR
		case dst.Mode.IsDir():
			return n.explainRemoveDir(ctx, to)()
		}
		return 0
	}
}
