package fs

import (
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
)

// Huge directories. The kernel keeps a node for every name it has looked
// up or been given by a readdirplus until memory runs short, and each one
// costs about 450 bytes here and in go-fuse: `ls -l` of a million names
// would keep half a gigabyte. Once a directory holds more than dir_nodes
// live nodes (defaultDirNodes), the mount hands back the older ones that
// nothing holds open, keeping the half it made there last: the kernel is asked
// to forget them (NOTIFY_PRUNE, Linux 6.17 and later) or, on older
// kernels, to drop their names (NOTIFY_INVAL_ENTRY; a FUSE inode goes
// with its last name). That is what the kernel does by itself when memory
// is short, so nothing else changes: a name's number derives from its
// path (identity.go), and its next lookup, answered from the attribute
// cache, gets the same number back. Directories are never handed back
// (their names may hold a cwd or a mount).
//
// A name handed back costs a lookup, answered locally, when it is used
// again: `ls -l` of 200 000 names takes 4 s with every node kept, 16 s
// keeping 20 000. The default leaves directories of up to 100 000 names as
// they are.
const (
	defaultDirNodes = 100_000
	shedBatch       = 256 // node ids per NOTIFY_PRUNE
)

type shedder struct {
	mu     sync.Mutex
	queues map[*Node][]*Node // per directory, the nodes made in it since it held dir_nodes, oldest first
	kick   chan struct{}     // a queue is longer than it should be
	once   sync.Once
}

// made records child, just made in dir, which holds live nodes. Caller
// holds fs.ids.mu.
func (s *shedder) made(f *FS, dir, child *Node, live int) {
	if live <= f.dirNodes() {
		return
	}
	s.once.Do(func() {
		s.queues = map[*Node][]*Node{}
		s.kick = make(chan struct{}, 1)
		go s.loop(f)
	})
	s.mu.Lock()
	s.queues[dir] = append(s.queues[dir], child)
	long := len(s.queues[dir]) > f.dirNodes()/2+shedBatch
	s.mu.Unlock()
	if long {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (f *FS) dirNodes() int {
	if n := f.opts.Caches.DirNodes; n > 0 {
		return n
	}
	return defaultDirNodes
}

func (s *shedder) loop(f *FS) {
	for range s.kick {
		for dir, old := range s.take(f.dirNodes() / 2) {
			f.handBack(dir, old)
		}
	}
}

// take removes from each queue all but its keep newest nodes.
func (s *shedder) take(keep int) map[*Node][]*Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[*Node][]*Node{}
	for dir, q := range s.queues {
		if len(q) <= keep {
			continue
		}
		cut := len(q) - keep
		out[dir] = q[:cut:cut]
		s.queues[dir] = append([]*Node(nil), q[cut:]...)
	}
	return out
}

// handBack asks the kernel to forget those of nodes, made in dir, that
// are still there, not directories, and not open.
func (f *FS) handBack(dir *Node, nodes []*Node) {
	type named struct {
		n    *Node
		name string
	}
	var gone []named
	f.ids.mu.Lock()
	held := f.ids.perDir[dir.StableAttr().Ino]
	for _, n := range nodes {
		if n.forgotten || n.StableAttr().Mode == syscall.S_IFDIR {
			continue
		}
		for _, p := range n.places {
			if p.dir == dir.StableAttr().Ino {
				gone = append(gone, named{n, p.name})
				break
			}
		}
	}
	f.ids.mu.Unlock()
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
			f.opts.Debug.Printf("asked the kernel to %s %d nodes of %q, which held %d", how, len(batch), "/"+dir.rel(), held)
		}
		batch, names = batch[:0], names[:0]
	}
	for _, g := range gone {
		if g.n.hasHandles() {
			continue
		}
		batch = append(batch, &g.n.Inode)
		names = append(names, g.name)
		if len(batch) == shedBatch {
			flush()
		}
	}
	flush()
}
