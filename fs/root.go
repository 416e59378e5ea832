package fs

import (
	"log"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sync/semaphore"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/fs/identity"
	"github.com/sftpmount/sftpmount/fs/writeback"
	"github.com/sftpmount/sftpmount/remote"
)

// Options tune the node tree. Zero values are valid: no caching, no log.
type Options struct {
	// Caches says how long each thing learned from the server is
	// trusted, by us and by the kernel.
	Caches Caches
	// Debug, when set, gets one line per kernel request: call, path, errno.
	Debug *log.Logger
	// Timeout is the deadline of every remote call (-o timeout). A wait
	// of ours on such calls (for queued writes) gives up after twice
	// it, and the new-file gate's wait: see waitLimit.
	Timeout time.Duration

	// Symlinks: see symlinks.go.
	ContainSymlinks   bool // refuse targets that could lead outside the mount (EPERM)
	TransformSymlinks bool // absolute targets inside the served dir become relative
	FollowSymlinks    bool // present what links point to, not the links

	// NameMax is the server's longest name (statvfs f_namemax); 0 means 255.
	// OpenSSH answers a longer name with the same code as EINVAL.
	NameMax int

	KernelCache     bool // keep a file's pages across opens, whatever the server says (kernel_cache)
	DirectIO        bool // no page cache and no read-ahead: every read and write reaches the server (direct_io)
	DisableHardlink bool // link(2) fails with EPERM (disable_hardlink)
	SeparateLinks   bool // names the server linked are separate files: nothing asked (objects.go)

	// Ownership as shown to the kernel: see owner.go.
	Owner Owner

	// Writeback, when set, is the journal of write-back (package
	// writeback).
	Writeback *writeback.Config
}

// Caches are the timeouts of what is learned from the server, each as
// sshfs's option of the same meaning has it; docs/caches.md says how
// stale each can be. Zero: not cached.
type Caches struct {
	Attr time.Duration // a name's attributes (dcache_stat_timeout)
	Dir  time.Duration // a directory's names (dcache_dir_timeout)
	Link time.Duration // a symlink's target (dcache_link_timeout)
	// Negative is how long a name absent from a listing is answered
	// absent without asking: since the listing was made, or since this
	// mount last changed that directory (it knows what it made there).
	// The kernel remembers an absent name as long (negative_timeout).
	Negative time.Duration
	// What the kernel is told it may keep (entry_timeout, attr_timeout).
	KernelEntry, KernelAttr time.Duration
	// Open is how long after the server told a file's size and mtime an
	// open for reading trusts them without asking (open_timeout; see
	// openLazily in open.go). 0: every open asks.
	Open   time.Duration
	Limits cache.Limits // dcache_max_size and cleaning
	// DirNodes is how many nodes one directory keeps before the older
	// ones are handed back to the kernel (dir_nodes; shed.go); 0:
	// defaultDirNodes.
	DirNodes int
}

// CachesFor is every cache and the kernel's at d.
func CachesFor(d time.Duration) Caches {
	return Caches{Attr: d, Dir: d, Link: d, Negative: d, KernelEntry: d, KernelAttr: d, Open: d}
}

// FS is the state shared by every node of one mount.
type FS struct {
	remote *remote.Client
	opts   Options

	known // what the mount knows of the server, and the verbs that change it (known.go)

	buffers       *cache.Budget            // memory all handles may read ahead into and write behind from
	prefetchSlots *semaphore.Weighted      // bounds prefetches in flight (prefetch.go)
	prefetchMu    sync.Mutex               // guards prefetching; its place in the lock order: doc.go
	prefetching   map[string]chan struct{} // listings on their way; closed when stored or dropped
	statMany      statMany                 // directories listed for the lookups that miss
	tree          treeState                // subtrees asked for in bulk (tree.go)

	handles handleTable // every open handle, by node and by path (handles.go)

	ahead *walkAhead // files fetched ahead of a walk (walkahead.go)

	writeback *writeback.Queue // nil: no journal

	root   *Node
	ids    *identity.Table[*Node] // which node answers for a name, and its number (fs/identity, identity.go)
	notify notifier               // kernel notices off the request path, and the shed loop (identity.go, shed.go)

	renewal absentRenewal // absent names asked about again (absent.go)

	objects objectTable // which files names the server linked are (objects.go)

	feed feedState // what the server's change feed vouches for (feed.go)

	bg *background // the other goroutines the mount starts, ended by Close (lifecycle.go)
}

// Node is a file, directory or symlink, named by its place in the tree.
// go-fuse keeps the tree across renames, so the path is always current.
type Node struct {
	fusefs.Inode
	fs *FS

	mu    sync.Mutex   // guards pages
	pages *remote.Attr // what the kernel's cached pages hold; see pagecache.go

	id identity.Entry[*Node] // its identity: names, number, Object; only fs/identity touches it
}

// bufferBudget bounds what every handle together holds read ahead or
// queued to write: two transfers at full speed, and the process stays
// small however many files are copied at once.
const bufferBudget = 2 * cache.ReadAheadMax

// NewRoot returns the root node of a mount served by rc.
func NewRoot(rc *remote.Client, opts Options) *Node {
	n := &Node{fs: newFS(rc, opts)}
	n.fs.root = n
	n.fs.ids.SetRoot(n)
	n.fs.attrIs("", rc.RootAttr()) // stat'ed at mount
	return n
}

func newFS(rc *remote.Client, opts Options) *FS {
	c := opts.Caches
	f := &FS{
		remote:        rc,
		opts:          opts,
		known:         newKnown(c),
		prefetchSlots: semaphore.NewWeighted(prefetchParallel),
		buffers:       cache.NewBudget(bufferBudget),
		handles:       newHandleTable(),
		ids:           identity.New[*Node](dirNodes(c)),
		ahead:         newWalkAhead(c),
		objects:       newObjectTable(c),
		tree:          newTreeState(c),
		bg:            newBackground(),
	}
	f.notify.init(f.shedOnce)
	f.changed.Busy = f.busy
	f.feed.init(c)
	dropped := f.changed.Dropped
	f.changed.Dropped = func(rel string) { dropped(rel); f.feed.ourChange(rel) }
	if opts.Writeback != nil {
		f.writeback = writeback.New(writebackHost{f}, writebackRemote{f}, *opts.Writeback)
	}
	return f
}

// FS is the state of the mount n is the root of.
func (n *Node) FS() *FS { return n.fs }

// LoadJournal takes the files left in the write-back journal by an
// earlier mount and shows them in the mount; it returns how many it
// found. Start uploads them.
func (f *FS) LoadJournal() (int, error) {
	if f.writeback == nil {
		return 0, nil
	}
	return f.writeback.Load()
}

// rel is the node's path relative to the served directory.
func (n *Node) rel() string { return n.Path(n.Root()) }

func (n *Node) child(name string) string { return path.Join(n.rel(), name) }

// result maps err to an errno and, under -d, logs the request. explain,
// when given, is asked for the real cause of an ambiguous SSH_FX_FAILURE.
func (f *FS) result(op, rel string, err error, explain func() syscall.Errno) syscall.Errno {
	errno := errnoOf(err)
	if err != nil && isFailure(err) && explain != nil {
		if e := explain(); e != 0 {
			errno = e
		}
	}
	if errno == syscall.EINVAL && f.nameTooLong(rel) {
		errno = syscall.ENAMETOOLONG
	}
	if f.opts.Debug != nil {
		if err != nil {
			f.opts.Debug.Printf("%s %q: %v (%v)", op, "/"+rel, errno, err)
		} else {
			f.opts.Debug.Printf("%s %q: ok", op, "/"+rel)
		}
	}
	return errno
}

// debugf writes one line to the -d log, when there is one.
func (f *FS) debugf(format string, args ...any) {
	if f.opts.Debug != nil {
		f.opts.Debug.Printf(format, args...)
	}
}

// nameTooLong reports whether a component of rel is past the server's limit.
func (f *FS) nameTooLong(rel string) bool {
	longest := f.opts.NameMax
	if longest <= 0 {
		longest = 255
	}
	for _, c := range strings.Split(rel, "/") {
		if len(c) > longest {
			return true
		}
	}
	return false
}
