package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Lookup resolves a name in a directory. After a readdir the attributes are
// in the cache, so `ls -l` costs one round trip per directory, not per name.
func (n *Node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	rel := n.child(name)
	a, err := n.fs.lstat(ctx, rel)
	if err != nil {
		return nil, n.fs.result("lookup", rel, err, nil)
	}
	return n.newChild(ctx, a, out), 0
}
