package fs

import (
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
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
// path (identity.go), and its next lookup, answered from the attribute
// cache, gets the same number back. Directories are never handed back
// (their names may hold a cwd or a mount).
//
// A name handed back costs a lookup, answered locally (about 60 µs), when
// it is used again: `ls` reads a whole directory before it stats a name,
// so `ls -l` of 200 000 names takes 4 s with every node kept and 16 s
// keeping 20 000. The default leaves directories of up to 100 000 names as
// they are.
const (
	defaultDirNodes = 100_000
	shedBatch       = 256 // node ids per NOTIFY_PRUNE
)

// shedder hands nodes back, off the request path: a notification for a
// directory waits for the kernel's requests in it to end.
type shedder struct {
	once sync.Once
	kick chan struct{} // a queue is longer than it should be
}

func (f *FS) dirNodes() int {
	if n := f.opts.Caches.DirNodes; n > 0 {
		return n
	}
	return defaultDirNodes
}

// queueShed queues name, just given a new node in directory dir, once dir
// holds more than dir_nodes; the first time, after every name dir then
// holds. The queue holds names, not nodes: a node forgotten meanwhile is
// not kept alive by it. Caller holds ids.mu.
func (f *FS) queueShed(dir uint64, name string) {
	t := &f.ids
	if t.perDir[dir] <= f.dirNodes() {
		return
	}
	if t.shedQ == nil {
		t.shedQ = map[uint64][]string{}
	}
	q, queued := t.shedQ[dir]
	if !queued {
		q = make([]string, 0, t.perDir[dir])
		for p := range t.byPlace {
			if p.dir == dir && p.name != name {
				q = append(q, p.name)
			}
		}
	}
	t.shedQ[dir] = append(q, name)
	if len(t.shedQ[dir]) <= f.dirNodes()/2+shedBatch {
		return
	}
	f.shed.once.Do(func() {
		f.shed.kick = make(chan struct{}, 1)
		go f.shedLoop()
	})
	select {
	case f.shed.kick <- struct{}{}:
	default:
	}
}

func (f *FS) shedLoop() {
	for range f.shed.kick {
		for dir, nodes := range f.takeShed(f.dirNodes() / 2) {
			f.handBack(dir, nodes)
		}
	}
}

type shedding struct {
	nodes []*fusefs.Inode
	names []string
	held  int // the directory's nodes when they were taken
}

// takeShed takes from each queue all but its keep newest names, and
// returns those that still name a node that is not a directory, with
// the directory's node.
func (f *FS) takeShed(keep int) map[*Node]shedding {
	t := &f.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[*Node]shedding{}
	for ino, q := range t.shedQ {
		if len(q) <= keep {
			continue
		}
		cut := len(q) - keep
		old := q[:cut]
		t.shedQ[ino] = append([]string(nil), q[cut:]...)
		dir := t.byIno[ino]
		if ino == fuse.FUSE_ROOT_ID {
			dir = f.root
		}
		if dir == nil || dir.forgotten {
			continue
		}
		s := shedding{held: t.perDir[ino]}
		for _, name := range old {
			n := t.byPlace[place{ino, name}]
			if n == nil || n.StableAttr().Mode == syscall.S_IFDIR {
				continue
			}
			s.nodes = append(s.nodes, &n.Inode)
			s.names = append(s.names, name)
		}
		out[dir] = s
	}
	return out
}

// handBack asks the kernel to forget the nodes of s, in dir, that are not
// open.
func (f *FS) handBack(dir *Node, s shedding) {
	batch := make([]*fusefs.Inode, 0, shedBatch)
	names := make([]string, 0, shedBatch)
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
			f.opts.Debug.Printf("asked the kernel to %s %d nodes of %q, which held %d", how, len(batch), "/"+dir.rel(), s.held)
		}
		batch, names = batch[:0], names[:0]
	}
	for i, n := range s.nodes {
		if n.Operations().(*Node).hasHandles() {
			continue
		}
		batch = append(batch, n)
		names = append(names, s.names[i])
		if len(batch) == shedBatch {
			flush()
		}
	}
	flush()
}
