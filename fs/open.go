package fs

import (
	"context"
	"os"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// openFlags keeps the O_* flags the server must see. O_APPEND matters:
// with it OpenSSH appends at the true end of file even when another client
// grew the file since our size was cached.
func openFlags(kernel uint32) int {
	f := int(kernel) & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	for _, keep := range []int{os.O_APPEND, os.O_TRUNC, os.O_CREATE, os.O_EXCL} {
		f |= int(kernel) & keep
	}
	return f
}

// Open opens an existing file, close-to-open as NFS promises: the
// server's attributes are asked for alongside the open (no round trip
// more), so a file another client changed is read fresh, its new size
// included, and the kernel's pages for it are kept only while the size
// and mtime are what they held (see pagecache.go). kernel_cache trusts
// the pages without asking; direct_io keeps none.
func (n *Node) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	rel := n.rel()
	fl := openFlags(flags)
	for try := 0; try < 3; try++ {
		wf := n.fs.writeback.Get(rel)
		if wf == nil {
			break
		}
		if h, errno := n.openSpooled(ctx, wf, fl); h != nil || errno != 0 {
			return h, fuse.FOPEN_KEEP_CACHE, errno
		}
		n.fs.quiesce(ctx, uploadJournal, paths(at(rel))) // uploading: a writer opens it once that has ended
	}
	if fl&os.O_TRUNC != 0 {
		n.fs.forget(rel)
		n.fs.truncated(rel, 0)
	}
	if fl == os.O_RDONLY {
		n.fs.walkStep(rel)
	}
	// Bytes fetched ahead first when they are here: the kernel's pages
	// of a file this mount wrote may lack its last page, which a read
	// then asks for; a fetch on its way is waited for only when the
	// pages cannot do.
	if h, keep := n.openAhead(ctx, rel, fl, false); h != nil {
		return h, keep, 0
	}
	if h := n.openLazily(rel, fl); h != nil {
		n.fs.result("open", rel, nil, nil)
		return h, fuse.FOPEN_KEEP_CACHE, 0
	}
	if h, keep := n.openAhead(ctx, rel, fl, true); h != nil {
		return h, keep, 0
	}
	// Another handle's queued writes land first, so this open reads them
	// (and a new file's held changes, which go behind them).
	n.fs.quiesce(ctx, landWrites, ofNode(n))
	// With a writing handle open the cached mtime may be our own estimate
	// (see wrote), which is no ground for either check.
	a, known := n.fs.attrs.Get(rel)
	known = known && fl&os.O_TRUNC == 0 && !n.hasWriters()
	var fresh chan freshAttr
	if fl&os.O_TRUNC == 0 && !n.fs.opts.KernelCache {
		fresh = make(chan freshAttr, 1)
		n.fs.bg.Go(func(context.Context) { fresh <- n.fs.askAttr(ctx, rel) })
	}
	var f *remote.File
	var err error
	if known {
		f, err = n.fs.remote.OpenKnown(ctx, rel, fl, a)
	} else {
		f, err = n.fs.remote.OpenFile(ctx, rel, fl)
	}
	if fl&os.O_TRUNC != 0 {
		// Whatever succeeded, an answer asked before may show the old
		// size: not kept.
		n.fs.touched(rel)
	}
	if err != nil {
		return nil, 0, n.fs.result("open", rel, n.goneIfMissing(rel, err), n.explainOpen(ctx, rel, false))
	}
	n.fs.result("open", rel, nil, nil)
	if fresh != nil {
		if r := <-fresh; r.ok {
			changed := !known || r.a.Size != a.Size || !remote.SameMtime(r.a.Mtime, a.Mtime)
			switch {
			case !known:
				f.Expect(r.a)
			case changed:
				f.Refresh(r.a)
			}
			if changed {
				// The kernel's size may be the old one, and it reads no
				// further than its size: it asks again (from the cache).
				n.NotifyContent(-1, 0)
			}
			a, known = r.a, fl&os.O_TRUNC == 0 && !n.hasWriters()
		}
	}
	var keep uint32
	switch {
	case n.fs.opts.DirectIO:
		keep = fuse.FOPEN_DIRECT_IO
	case n.fs.opts.KernelCache && fl&os.O_TRUNC == 0:
		keep = fuse.FOPEN_KEEP_CACHE
	case known && n.keepPages(a):
		keep = fuse.FOPEN_KEEP_CACHE
	case !known:
		n.dropPages()
	}
	return newFileHandle(f, n, rel, fl, nil), keep, 0
}

// openLazily opens rel for reading without asking the server, when this
// mount knows enough to answer as the server would: nothing else has it
// open for writing, the server told its size and mtime within Caches.Open, the
// kernel's pages hold what the file held then, and the mode lets anyone
// read it (so the server's open could not refuse). The remote handle is
// opened when a read first reaches the mount (remote.OpenLater), before
// a rename or unlink through the mount takes the path from it
// (quiesce's openLazy), or never: `cat`, git and compilers reading the same
// files again are answered by the pages. Otherwise nil.
func (n *Node) openLazily(rel string, fl int) *fileHandle {
	f := n.fs
	if !n.mayOpenWithoutAsking(fl) {
		return nil
	}
	a, ok := f.attrs.Get(rel)
	left, _ := f.attrs.Left(rel)
	if !ok || !a.Mode.IsRegular() || a.Mode.Perm()&0o004 == 0 || f.opts.Caches.Attr-left > f.opts.Caches.Open {
		return nil
	}
	if !f.opts.KernelCache && !n.pagesHold(a) {
		return nil
	}
	rf, ok := f.remote.OpenLater(rel, a, n.changedOnServer(rel))
	if !ok {
		return nil
	}
	return n.lazyHandle(rf, rel, fl)
}

// openAhead opens rel for reading on what was fetched ahead of a walk
// (walkahead.go), under openLazily's conditions but for the pages: the
// fetch told the attributes, and holds the first bytes. keep says
// whether the kernel's pages hold the file as fetched. nil: nothing
// fetched, or too old, or (unless wait) not here yet.
func (n *Node) openAhead(ctx context.Context, rel string, fl int, wait bool) (*fileHandle, uint32) {
	f := n.fs
	if !n.mayOpenWithoutAsking(fl) {
		return nil, 0
	}
	before, known := f.attrs.Get(rel)
	e := f.takeAhead(ctx, rel, wait)
	if e == nil {
		return nil, 0
	}
	if known && (before.Size != e.a.Size || !remote.SameMtime(before.Mtime, e.a.Mtime)) {
		// As Open: the kernel's size may be the old one, and it reads
		// no further than its size.
		n.NotifyContent(-1, 0)
	}
	rf, ok := f.remote.OpenLater(rel, e.a, n.changedOnServer(rel))
	if !ok {
		f.buffers.Give(e.cost)
		return nil, 0
	}
	h := n.lazyHandle(rf, rel, fl)
	h.ahead.Store(e)
	if f.opts.Debug != nil {
		f.opts.Debug.Printf("open %q: ok, fetched ahead", "/"+rel)
	}
	if n.keepPages(e.a) {
		return h, fuse.FOPEN_KEEP_CACHE
	}
	return h, 0
}

// mayOpenWithoutAsking reports whether an open with flags fl may be
// answered without the server (openLazily, openAhead): for reading only,
// with open_timeout on, pages kept, and nothing writing the file.
func (n *Node) mayOpenWithoutAsking(fl int) bool {
	f := n.fs
	return fl == os.O_RDONLY && f.opts.Caches.Open > 0 && !f.opts.DirectIO && !n.hasWriters() && !n.unlinked()
}

// changedOnServer is what a file opened without asking hears when its
// handle, once open, finds it changed on the server since: the pages
// are the old file's.
func (n *Node) changedOnServer(rel string) func(remote.Attr) {
	return func(remote.Attr) {
		n.fs.staleAttr(rel)
		n.dropPages()
		n.fs.bg.Go(func(context.Context) { n.NotifyContent(-1, 0) }) // not from within the read that found it: the kernel holds its page
	}
}

// lazyHandle is the handle of rf, opened without asking the server,
// kept where a rename or unlink finds it (quiesce's openLazy).
func (n *Node) lazyHandle(rf *remote.File, rel string, fl int) *fileHandle {
	h := newFileHandle(rf, n, rel, fl, nil)
	n.fs.handles.addLazy(h)
	return h
}

// freshAttr is an answer of askAttr; ok is false when there was none to
// go by (an error, or a change of ours made it stale).
type freshAttr struct {
	a  remote.Attr
	ok bool
}

// askAttr asks the server for rel's attributes, as a lookup would, and
// caches the answer unless a change of ours makes it stale.
func (f *FS) askAttr(ctx context.Context, rel string) freshAttr {
	a, stale, err := f.ask(rel, func() (remote.Attr, error) {
		if f.opts.FollowSymlinks {
			return f.remote.Stat(ctx, rel)
		}
		return f.remote.Lstat(ctx, rel)
	})
	return freshAttr{a: a, ok: err == nil && !stale}
}

// Create makes and opens a new file with the mode the kernel gives
// (umask already applied). A file that cannot have existed (O_EXCL) and
// is opened for writing only takes one round trip (see newfile.go); any
// other costs the open and then a chmod and an fstat together.
func (n *Node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	fl := openFlags(flags) | os.O_CREATE
	if n.fs.writeback.Room() {
		if ch, fh, keep, errno := n.createSpooled(ctx, name, fl, goMode(mode), out); ch != nil || errno != 0 {
			return ch, fh, keep, errno
		}
	}
	if fl&os.O_EXCL != 0 && fl&(os.O_WRONLY|os.O_RDWR) == os.O_WRONLY && fl&os.O_APPEND == 0 {
		return n.createNew(ctx, name, fl, goMode(mode), out)
	}
	rel := n.child(name)
	n.fs.forget(rel)
	f, a, err := n.fs.remote.CreateFile(ctx, rel, fl, goMode(mode))
	n.fs.settled(rel, err, true)
	if err != nil {
		return nil, nil, 0, n.fs.result("create", rel, err, n.explainOpen(ctx, rel, fl&os.O_EXCL != 0))
	}
	n.fs.attrIs(rel, a)
	n.fs.result("create", rel, nil, nil)
	ch := n.newChild(ctx, name, a, false, out)
	return ch, newFileHandle(f, ch.Operations().(*Node), rel, fl, nil), 0, 0
}

// Mknod can only make regular files over SFTP; devices, FIFOs and sockets
// have no SFTP request, so they fail at once without remote traffic.
func (n *Node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	rel := n.child(name)
	if mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, n.fs.result("mknod", rel, syscall.ENOTSUP, nil)
	}
	ch, fh, _, errno := n.Create(ctx, name, uint32(os.O_WRONLY|os.O_EXCL), mode&07777, out)
	if errno != 0 {
		return nil, errno
	}
	// As close(2) would: the mode is set at the flush (see held.go),
	// or the file is in the write-back journal (spooled.go).
	h := fh.(interface {
		fusefs.FileFlusher
		fusefs.FileReleaser
	})
	errno = h.Flush(ctx)
	if rerr := h.Release(ctx); errno == 0 {
		errno = rerr
	}
	if errno != 0 {
		return nil, errno
	}
	return ch, 0
}
