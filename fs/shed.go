package fs

import (
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/sftpmount/sftpmount/fs/identity"
)

// Huge directories. The kernel keeps a node for every name it has looked
// up or been given by a readdirplus until memory runs short, and each one
// costs about 450 bytes here and in go-fuse: `ls -l` of a million names
// would keep half a gigabyte. Once a directory holds more than dir_nodes
// live nodes (defaultDirNodes), the mount hands back the older ones that
// nothing holds open, down to half of dir_nodes, the ones it made there
// last (those it held when it passed the bound count as older than any
// made since, in no order among themselves): the kernel is asked to
// forget them (NOTIFY_PRUNE, Linux 6.17 and later) or, on older
// kernels, to drop their names (NOTIFY_INVAL_ENTRY; a FUSE inode goes
// with its last name). That is what the kernel does by itself when memory
// is short, so nothing else changes: a name's number derives from its
// path (fs/identity), and its next lookup, answered from the attribute
// cache, gets the same number back. Directories are never handed back
// (their names may hold a cwd or a mount).
//
// A name handed back costs a lookup, answered locally (about 60 µs), when
// it is used again: `ls` reads a whole directory before it stats a name,
// so `ls -l` of 200 000 names takes 4 s with every node kept and 16 s
// keeping 20 000. The default leaves directories of up to 100 000 names as
// they are.
//
// The identity table keeps the queues of names (fs/identity/shed.go);
// this file hands them back, off the request path (a notification for a
// directory waits for the kernel's requests in it to end), in the
// notifier's loop (identity.go).
const defaultDirNodes = 100_000

func dirNodes(c Caches) int {
	if c.DirNodes > 0 {
		return c.DirNodes
	}
	return defaultDirNodes
}

// shedOnce hands back the nodes the identity table has queued.
func (f *FS) shedOnce() {
	for _, s := range f.ids.TakeShed() {
		f.handBack(s)
	}
}

// handBack asks the kernel to forget the nodes of s, in its directory,
// that are not open.
func (f *FS) handBack(s identity.Shed[*Node]) {
	dir := s.Dir
	batch := make([]*fusefs.Inode, 0, identity.ShedBatch)
	names := make([]string, 0, identity.ShedBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		how := "forget"
		if errno := dir.NotifyPrune(batch); errno == syscall.ENOSYS {
			how = "drop the names of"
			for _, name := range names {
				dir.NotifyEntry(name)
			}
		}
		if f.opts.Debug != nil {
			f.opts.Debug.Printf("asked the kernel to %s %d nodes of %q, which held %d", how, len(batch), "/"+dir.rel(), s.Held)
		}
		batch, names = batch[:0], names[:0]
	}
	for i, n := range s.Nodes {
		if n.hasHandles() {
			continue
		}
		batch = append(batch, &n.Inode)
		names = append(names, s.Names[i])
		if len(batch) == identity.ShedBatch {
			flush()
		}
	}
	flush()
}
