package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Symlink creates name pointing at target, stored exactly as written.
func (n *Node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	rel := n.child(name)
	n.fs.forget(rel)
	err := n.fs.remote.Symlink(ctx, target, rel)
	n.fs.settled(rel, err, true)
	if err != nil {
		return nil, n.fs.result("symlink", rel, err, n.explainCreate(ctx, rel))
	}
	a, err := n.fs.fresh(ctx, rel)
	if err != nil {
		return nil, n.fs.result("symlink", rel, err, nil)
	}
	n.fs.result("symlink", rel, nil, nil)
	return n.newChild(ctx, name, a, true, out), 0
}

// Readlink returns the target as the server stores it.
func (n *Node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	rel := n.rel()
	// A symlink cannot change in place (learnedTarget).
	target, ok := n.fs.targets.Get(rel)
	if !ok {
		var err error
		if target, err = n.fs.remote.ReadLink(ctx, rel); err != nil {
			return nil, n.fs.result("readlink", rel, err, nil)
		}
		n.fs.learnedTarget(rel, target)
	}
	shown, errno := n.fs.presentTarget(rel, target)
	if errno != 0 {
		return nil, n.fs.result("readlink", rel, errno, nil)
	}
	return []byte(shown), 0
}

// Link makes a hard link (hardlink@openssh.com; EPERM without it).
func (n *Node) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	rel := n.child(name)
	if n.fs.opts.DisableHardlink {
		// POSIX's answer of a filesystem without hard links, and what
		// ln hears from sshfs with disable_hardlink.
		return nil, n.fs.result("link", rel, syscall.EPERM, nil)
	}
	existing := target.EmbeddedInode().Operations().(*Node).rel()
	n.fs.quiesce(ctx, uploadJournal, paths(at(existing))) // ours in the journal: on the server first
	n.fs.forget(rel)
	n.fs.forget(existing)
	err := n.fs.remote.Link(ctx, existing, rel)
	n.fs.settled(rel, err, true)
	if code, ok := statusCode(err); ok && code == fxOpUnsupported {
		// No hardlink@openssh.com (remote/lacks.go): POSIX's answer of
		// a filesystem without hard links, as with disable_hardlink.
		return nil, n.fs.result("link", rel, syscall.EPERM, nil)
	}
	if err != nil {
		return nil, n.fs.result("link", rel, err, n.explainCreate(ctx, rel))
	}
	a, err := n.fs.fresh(ctx, rel)
	if err != nil {
		return nil, n.fs.result("link", rel, err, nil)
	}
	n.fs.result("link", rel, nil, nil)
	n.fs.hardLinked(existing, rel)
	// The same inode under a second name, so both show one inode number.
	node := target.EmbeddedInode().Operations().(*Node)
	n.fs.linked(node, n, name)
	n.fs.fillEntry(rel, a, out)
	node.showLinks(&out.Attr)
	return target.EmbeddedInode(), 0
}
