package fs

import (
	"context"
	"os"
	"path"
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// An open directory. A directory listed within the cache timeout is
// served from the cache; otherwise its listing streams: names reach the
// kernel batch by batch as the server sends them (remote.ReadDirBatches,
// several READDIRs in flight), so `ls -f` or `find` of a million names
// starts printing within a few round trips, and readdirplus (ls -l) takes
// each name's attributes from the batch it came in, whatever the size of
// the attribute cache: no name costs a lookup of its own. The names are
// kept as the directory's listing only up to maxKeptListing; a larger
// directory is listed from the server at every opendir.
//
// Readdirplus gives the kernel a node only for a name it holds none for,
// and only while the mount has not changed that name since the handle
// began (cache.Changes): a batch may wait in the stream while `mv r x`
// runs, and linking its "r" would bring back a name the rename took. A
// name passed over is looked up when asked for.
//
// go-fuse serializes the calls on one handle, so dirHandle needs no lock.

// maxKeptListing bounds the names kept as one directory's listing.
const maxKeptListing = 250000

type dirHandle struct {
	n   *Node
	rel string
	pos uint64 // entries handed out, "." and ".." included

	cur  []remote.DirEntry // the batch being handed out
	last remote.DirEntry   // the entry handed out last, for Lookup
	live bool              // the kernel holds a node for last

	tok    cache.Token // taken when the listing began, for Lookup
	hasTok bool        // tok is taken and not yet given back

	s *dirStream // the listing streaming in; nil once ended or when served from a slice

	files []string // the regular files handed out, in order, for walks (walkahead.go); nil past aheadOrderMax
	dirs  []string // likewise the subdirectories
}

// dirStream is one listing on its way.
type dirStream struct {
	batches chan []remote.DirEntry
	stop    chan struct{} // closed when the handle is done with it
	once    sync.Once
	err     error // the listing's outcome, set before batches is closed
}

func (s *dirStream) end() { s.once.Do(func() { close(s.stop) }) }

// OpendirHandle opens a directory: from the cache, from a listing made
// ahead of a walk, or by starting its listing, whose first batch (or
// error: ENOENT, EACCES, ENOTDIR) it waits for.
func (n *Node) OpendirHandle(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	h := &dirHandle{n: n, rel: n.rel()}
	if errno := h.start(ctx); errno != 0 {
		h.giveBack()
		return nil, 0, errno
	}
	return h, 0, 0
}

func (h *dirHandle) start(ctx context.Context) syscall.Errno {
	f := h.n.fs
	h.pos, h.cur, h.s, h.files, h.dirs = 0, nil, nil, []string{}, nil
	h.giveBack()
	h.tok, h.hasTok = f.changed.Begin(), true
	entries, ok := f.cachedListing(h.rel)
	if !ok && f.bulkFor(ctx, h.rel) {
		entries, ok = f.cachedListing(h.rel) // its subtree, asked for in bulk (tree.go)
	}
	if ok {
		h.cur = entries
		f.result("readdir", h.rel, nil, nil)
		// A walk over a tree another program listed (grep -r after git
		// status) reaches subdirectories that nothing listed yet.
		f.prefetchSubdirs(h.rel, entries)
		return 0
	}
	if f.prefetchedFor(h.rel) {
		entries, err := h.n.listRemote(ctx, h.rel, true)
		if err != nil {
			return f.result("readdir", h.rel, err, h.n.explainNotDir(ctx, h.rel))
		}
		h.cur = entries
		f.result("readdir", h.rel, nil, nil)
		return 0
	}
	st := &dirStream{batches: make(chan []remote.DirEntry, 4), stop: make(chan struct{})}
	first := make(chan error, 1)
	f.bg.Go(func(context.Context) { f.stream(h.rel, st, first) })
	if err := <-first; err != nil { // bounded: the listing's own deadline
		return f.result("readdir", h.rel, err, h.n.explainNotDir(ctx, h.rel))
	}
	h.s = st
	f.result("readdir", h.rel, nil, nil)
	return 0
}

// stream lists rel onto st, caching every entry's attributes as it goes
// and, once complete, the names; first gets nil at the first batch, or the
// listing's outcome if it ends before one.
func (f *FS) stream(rel string, st *dirStream, first chan<- error) {
	f.quiesce(context.Background(), sendHeld, paths(inDir(rel)))
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	var names []string
	var subdirs []remote.DirEntry
	keep, started, stopped := true, false, false
	spooled := f.writeback.In(rel) // ours in the journal, not on the server yet: listed at the end
	err := f.remote.ReadDirBatches(context.Background(), rel, func(batch []remote.DirEntry) bool {
		batch = f.keepAttrs(rel, batch, tok)
		for _, e := range batch {
			delete(spooled, e.Name)
			if keep {
				names = append(names, e.Name)
			}
			if e.Attr.Mode.IsDir() && len(subdirs) < prefetchPerDir {
				subdirs = append(subdirs, e)
			}
		}
		if len(names) > maxKeptListing {
			keep, names = false, nil
		}
		if !started {
			started = true
			first <- nil
		}
		select {
		case st.batches <- batch:
			return true
		case <-st.stop:
			stopped = true
			return false
		}
	})
	if extra := spooledEntries(spooled); err == nil && !stopped && len(extra) > 0 {
		for _, e := range extra {
			names = append(names, e.Name)
		}
		if !started {
			started = true
			first <- nil
		}
		select {
		case st.batches <- extra:
		case <-st.stop:
			stopped = true
		}
	}
	if err == nil && keep && !stopped {
		f.learnedListing(rel, names, tok)
	}
	if err == nil && !stopped {
		f.prefetchSubdirs(rel, subdirs) // a walk goes on into them; not for a reader that gave up (ls | head)
	}
	st.err = err
	close(st.batches)
	if !started {
		first <- err
	}
}

// Readdirent hands out ".", "..", then the entries, waiting for the
// stream's next batch when the last is handed out.
func (h *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	switch h.pos {
	case 0, 1:
		// "." and ".." first, as a local disk lists them; the kernel
		// resolves them itself, so their inode numbers do not matter.
		h.pos++
		return &fuse.DirEntry{Name: [...]string{".", ".."}[h.pos-1], Mode: syscall.S_IFDIR}, 0
	}
	for len(h.cur) == 0 {
		if h.s == nil {
			if h.hasTok && h.files != nil {
				h.n.fs.listedOrder(h.rel, h.files, h.dirs, true)
			}
			h.giveBack()
			return nil, 0
		}
		select {
		case b, ok := <-h.s.batches:
			if !ok {
				err := h.s.err // set before the close
				h.s = nil
				if err != nil {
					return nil, h.n.fs.result("readdir", h.rel, err, nil)
				}
				continue
			}
			h.cur = b
		case <-ctx.Done():
			return nil, syscall.EINTR
		}
	}
	e := h.cur[0]
	h.cur, h.last = h.cur[1:], e
	h.pos++
	mode := sysMode(e.Attr.Mode)
	obj := h.n.fs.knownObject(path.Join(h.rel, e.Name), e.Attr)
	ino, live := h.n.fs.ids.NumberWant(h.n.StableAttr().Ino, e.Name, mode&syscall.S_IFMT, obj, h.n.fs.withTold(path.Join(h.rel, e.Name), e.Attr).Ino)
	h.live = live
	if h.files != nil {
		switch {
		case e.Attr.Mode.IsRegular():
			h.files = append(h.files, e.Name)
		case e.Attr.Mode.IsDir():
			h.dirs = append(h.dirs, e.Name)
		}
		if len(h.files)+len(h.dirs) > aheadOrderMax {
			h.files, h.dirs = nil, nil
		}
	}
	return &fuse.DirEntry{Name: e.Name, Mode: mode, Ino: ino}, 0
}

// giveBack returns the handle's token: it has handed out its last entry,
// or is done.
func (h *dirHandle) giveBack() {
	if h.hasTok {
		h.hasTok = false
		h.n.fs.changed.End(h.tok)
	}
}

// Lookup serves readdirplus for the entry handed out last, with the
// attributes its batch brought: no round trip, whatever the cache holds.
// (A name handed out before, again, is looked up as the kernel would.)
// A name the kernel holds a node for keeps it as it is (its attributes
// may be newer than the listing's: writes on their way), and a name the
// mount changed since the listing began is passed over: any errno makes
// go-fuse send the entry without a node, which the kernel takes as
// nothing known, not as absent.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	f := h.n.fs
	a := h.last.Attr
	if h.last.Name != name || (f.opts.FollowSymlinks && a.Mode&os.ModeSymlink != 0) {
		// go-fuse hands out again what the kernel did not take of its
		// last batch; a followed link shows its target's.
		return h.n.Lookup(ctx, name, out)
	}
	rel := path.Join(h.rel, name)
	if h.live || !h.hasTok || !f.answerHolds(rel, h.tok) {
		return nil, syscall.EAGAIN
	}
	if errno := f.opts.Owner.check(a); errno != 0 {
		return nil, syscall.EAGAIN // the lookup says why
	}
	if ask := h.n.toIdentify(rel, name, a); len(ask) > 0 {
		// Which file it may be one with: asked about now, with the
		// listing's others, and the lookup waits for it (objects.go).
		f.queueIdentify(ask)
		return nil, syscall.EAGAIN
	}
	return h.n.newChild(ctx, name, a, false, out), 0
}

// Seekdir serves rewinddir (0: the directory listed again, as a local
// disk shows changes after a rewind) and seekdir to an offset telldir
// gave: the listing started again and that many entries passed over.
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off == h.pos {
		return 0
	}
	h.Releasedir(ctx, 0)
	if errno := h.start(ctx); errno != 0 {
		return errno
	}
	for h.pos < off {
		e, errno := h.Readdirent(ctx)
		if errno != 0 {
			return errno
		}
		if e == nil {
			break
		}
	}
	return 0
}

// Releasedir ends the stream, if one runs.
func (h *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	h.giveBack()
	if h.s != nil {
		h.s.end()
	}
}
