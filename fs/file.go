package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// writeBehindLimit bounds the bytes of one handle's writes in flight: past
// the SSH channel window (2 MiB) more would only queue.
const writeBehindLimit = 8 << 20

// fileHandle is one open(2) of a remote file. Writes return once queued
// (write-behind); an error reaches the application at the next write, at
// fsync, or at close, which waits for every write to be answered. O_APPEND
// handles write synchronously: the server appends in arrival order.
type fileHandle struct {
	f      *remote.File
	node   *Node
	rel    string
	behind *cache.WriteBehind // write-behind; nil: synchronous writes
	ra     *cache.ReadAhead   // nil: write-only handle

	writable  bool         // opened for writing (set before it is registered)
	wrote     atomic.Bool  // this handle changed the file: its mtime is the server's to tell
	appending atomic.Int32 // synchronous (O_APPEND) writes on their way
	end       atomic.Int64 // how far this handle's writes reach (since a truncate): the kernel was told the file is this long

	ahead atomic.Pointer[aheadFile] // the file's first bytes, fetched ahead of a walk (walkahead.go); nil: none

	held *heldChanges // a new file's changes held back until the data has landed (held.go); nil: none

	// inUse is read-held by a setattr that came without a handle and
	// uses this one (attr.go openFile); Release takes it, for good, so
	// that the remote handle is not closed under that setattr.
	inUse sync.RWMutex
}

// newFileHandle opens node's file f; held, when given, holds back its
// writes at its gate and its changes until they land.
func newFileHandle(f *remote.File, node *Node, rel string, flags int, held *heldChanges) *fileHandle {
	h := &fileHandle{f: f, node: node, rel: rel, held: held}
	h.startBuffers(flags, func(p []byte, off int64, sent func()) error {
		_, err := f.WriteAtThen(context.Background(), p, off, sent)
		return err
	}, func(p []byte, off int64) (int, error) {
		if e := h.ahead.Load(); e != nil {
			n, eof, ok := e.read(p, off)
			switch {
			case ok && eof:
				return n, io.EOF
			case ok:
				return n, nil
			case n > 0:
				m, err := f.ReadAt(context.Background(), p[n:], off+int64(n))
				return n + m, err
			}
		}
		return f.ReadAt(context.Background(), p, off)
	})
	if h.ra != nil {
		h.ra.Size = func() (int64, bool) {
			a, ok := node.fs.attrs.Get(rel)
			return int64(a.Size), ok && !node.unlinked()
		}
	}
	h.register(flags)
	return h
}

// register makes the handle one of its node's, and, if it may write, one
// that answers from the server wait for (fetch.go), and, for a new file,
// one whose held changes a quiesce sends (handles.go).
func (h *fileHandle) register(flags int) {
	h.writable = flags&(os.O_WRONLY|os.O_RDWR) != 0
	h.node.fs.handles.add(h)
}

// startBuffers sets up write-behind and read-ahead as the open flags allow,
// over send and fetch, which write and read the server's copy. Writes wait
// at h.held's gate, if any.
func (h *fileHandle) startBuffers(flags int, send cache.Sender, fetch func(p []byte, off int64) (int, error)) {
	if flags&os.O_APPEND == 0 && flags&(os.O_WRONLY|os.O_RDWR) != 0 {
		h.behind = cache.NewWriteBehind(func(p []byte, off int64, sent func()) error {
			if h.held != nil {
				if err := h.held.waitGate(); err != nil {
					return err
				}
			}
			err := send(p, off, sent)
			// Answers asked while it was on its way may predate it.
			h.node.fs.touched(h.rel)
			// Invalidating when the write was queued is not enough:
			// sequential reads elsewhere may have fetched ahead over
			// these bytes while it was on its way, and the server may
			// have answered that fetch first, with the old bytes. Drop
			// such chunks now, before WaitRange lets a read of these
			// bytes go on.
			h.node.forgetReadAhead()
			return err
		}, writeBehindLimit, h.node.fs.buffers)
		// A new file's write sent unbuffered must not wait at its gate
		// for its own creator's close (held.go).
		h.behind.Unbuffered = func() {
			if h.held != nil {
				h.held.letDataGoUnlessHeld() // settle may hold its lock, waiting for this write
			}
		}
		h.behind.MaxWait = h.node.fs.waitLimit()
	}
	if flags&(os.O_WRONLY|os.O_RDWR) != os.O_WRONLY && !h.node.fs.opts.DirectIO {
		h.ra = cache.NewReadAhead(fetch, h.node.fs.buffers)
	}
}

// letDataGo opens a new file's gate (its mode sent first), for a write
// or a read that cannot wait for the creator to open it.
func (h *fileHandle) letDataGo() {
	if h.held != nil {
		h.held.letDataGo()
	}
}

// invalidateReadAhead forgets bytes this handle read ahead, which a write
// or truncate through any handle of the file makes stale.
func (h *fileHandle) invalidateReadAhead() {
	if h.ra != nil {
		h.ra.Invalidate()
	}
}

// flush waits for this handle's queued writes, and sends the changes it
// held back; the error is the first one any of them met.
func (h *fileHandle) flush() error {
	if h.held != nil {
		return h.held.settle(h.behind)
	}
	if h.behind == nil {
		return nil
	}
	return h.behind.Flush()
}

// Read fills dest from off; a short result means end of file.
func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	// Pending is taken before the read: a write landing during it counts.
	pending, err := h.node.waitWrites(off, off+int64(len(dest)))
	if err != nil {
		return nil, h.node.fs.result("read", h.rel, err, nil)
	}
	n, err := h.readAt(ctx, dest, off)
	if errors.Is(err, io.EOF) && pending {
		// A queued write further on may make the file longer than the
		// server knows yet (a hole then reads as zeros): let it land.
		h.node.fs.quiesce(ctx, landWrites, ofNode(h.node))
		h.invalidateReadAhead()
		n, err = h.readAt(ctx, dest, off)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// A handle opened without asking (open.go) meets a file
		// removed on the server at its first read: the name goes, as
		// an open that asked would have found.
		return nil, h.node.fs.result("read", h.rel, h.node.goneIfMissing(h.rel, err), nil)
	}
	if n < len(dest) && h.node.fs.opts.Debug != nil {
		// The kernel takes a short read as the end of the file.
		h.node.fs.opts.Debug.Printf("read %q: %d of %d bytes at %d: end of file", "/"+h.rel, n, len(dest), off)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *fileHandle) readAt(ctx context.Context, dest []byte, off int64) (int, error) {
	if h.ra != nil {
		return h.ra.ReadAt(dest, off)
	}
	return h.f.ReadAt(ctx, dest, off)
}

// Write stores data at off on the server.
func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if h.held != nil {
		if err := h.held.admit(off, len(data), h.behind); err != nil {
			return 0, h.node.fs.result("write", h.rel, err, h.node.explainWrite(ctx, h.rel))
		}
	}
	h.wrote.Store(true)
	h.node.dropPages()
	h.node.forgetReadAhead()
	end := uint64(off) + uint64(len(data))
	for cur := h.end.Load(); int64(end) > cur && !h.end.CompareAndSwap(cur, int64(end)); cur = h.end.Load() {
	}
	if h.behind != nil {
		err := h.behind.Write(data, off)
		// Once queued (in flight, so busy), the cached size is ours: a
		// stat answered before the queueing may have been cached.
		h.node.fs.wrote(h.rel, end)
		if err != nil {
			return 0, h.node.fs.result("write", h.rel, err, h.node.explainWrite(ctx, h.rel))
		}
		return uint32(len(data)), 0
	}
	if fromPageCache(ctx) {
		return h.writeInPlace(ctx, data, off)
	}
	// The server appends at the end of its copy: writes of other
	// handles the kernel counted in off must land first, or the bytes
	// go in before them (and a queued write then covers them).
	h.node.fs.quiesce(ctx, landWrites, ofNode(h.node))
	h.appending.Add(1)
	h.node.fs.wrote(h.rel, end)
	n, err := h.f.WriteAt(ctx, data, off)
	h.appending.Add(-1)
	h.node.fs.touched(h.rel)
	h.node.forgetReadAhead() // again once answered: see startBuffers
	if err != nil {
		return uint32(n), h.node.fs.result("write", h.rel, err, h.node.explainWrite(ctx, h.rel))
	}
	return uint32(n), 0
}

// fromPageCache reports whether a write comes from the kernel's page
// cache (a dirty page of a shared mapping written back, at msync or
// later), not from a write(2): FUSE sends those without a caller (pid 0),
// through any writable handle of the file, an O_APPEND one included.
func fromPageCache(ctx context.Context) bool {
	c, ok := fuse.FromContext(ctx)
	return ok && c.Pid == 0
}

// writeInPlace writes a page the kernel wrote back through this O_APPEND
// handle at its own offset: through a handle of the file's that writes
// in place, queued as its writes are, or else through one opened for it
// alone. Sent through this one, the server would append it at the end.
func (h *fileHandle) writeInPlace(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	end := uint64(off) + uint64(len(data))
	for _, o := range h.node.openHandles() {
		if o.behind != nil {
			err := o.behind.Write(data, off)
			h.node.fs.wrote(h.rel, end)
			if err != nil {
				return 0, h.node.fs.result("write", h.rel, err, h.node.explainWrite(ctx, h.rel))
			}
			return uint32(len(data)), 0
		}
	}
	h.node.fs.quiesce(ctx, landWrites, ofNode(h.node))
	f, err := h.node.fs.remote.OpenFile(ctx, h.rel, os.O_WRONLY)
	if err == nil {
		h.node.fs.wrote(h.rel, end)
		_, err = f.WriteAt(ctx, data, off)
		err = errors.Join(err, f.Close(ctx))
		h.node.fs.touched(h.rel)
		h.node.forgetReadAhead()
	}
	if err != nil {
		return 0, h.node.fs.result("write", h.rel, err, h.node.explainWrite(ctx, h.rel))
	}
	return uint32(len(data)), 0
}

// Flush runs at every close(2): it returns once every write queued on this
// handle is on the server, with the first error any of them met.
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	return h.node.fs.result("flush", h.rel, h.flush(), h.node.explainWrite(ctx, h.rel))
}

// Fsync returns once the server has synced the file (fsync@openssh.com).
func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if err := h.flush(); err != nil {
		return h.node.fs.result("fsync", h.rel, err, h.node.explainWrite(ctx, h.rel))
	}
	return h.node.fs.result("fsync", h.rel, h.f.Sync(ctx), nil)
}

// Release closes the remote handle after the last close(2). Flush has
// already reported any write error to close(2); this one is only logged.
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	h.inUse.Lock()
	flushErr := h.flush()
	h.node.fs.handles.remove(h)
	if h.wrote.Load() || h.held != nil {
		h.node.fs.touched(h.rel) // what was asked while it was open is older
	}
	if h.ra != nil {
		h.ra.Close()
	}
	if e := h.ahead.Swap(nil); e != nil {
		h.node.fs.buffers.Give(e.cost)
	}
	if h.wrote.Load() {
		// The cached mtime is our estimate (see wrote); ask the server.
		h.node.fs.staleAttr(h.rel)
		if flushErr == nil {
			h.knowWritten(ctx)
		}
	}
	return h.node.fs.result("release", h.rel, h.f.Close(ctx), nil)
}

// knowWritten asks the server, through the handle, for the attributes of
// the file this handle wrote and, when nothing else has it open, takes
// the kernel's pages as holding it: they hold what was written, so the
// next open keeps them (and, within open_timeout, asks nothing). The
// close(2) has returned already; this costs the application nothing.
func (h *fileHandle) knowWritten(ctx context.Context) {
	n, f := h.node, h.node.fs
	if n.hasWriters() || n.unlinked() {
		return
	}
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	a, err := h.f.Stat(ctx)
	if err != nil {
		return
	}
	f.learnedAttrWith(h.rel, a, tok, func() {
		n.mu.Lock()
		n.pages = &a
		n.mu.Unlock()
	})
}

// Getattr through an open handle (fstat). Queued writes land first, so
// the size is the one the application expects.
func (h *fileHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	if a, ok := h.node.fs.attrs.Get(h.rel); ok && !h.node.unlinked() {
		return h.node.fs.fillAttrOut(h.rel, a, out)
	}
	h.flush()
	if h.node.unlinked() {
		a, err := h.f.Stat(ctx)
		if err != nil {
			return h.node.fs.result("fgetattr", h.rel, err, nil)
		}
		return h.node.fs.fillAttrOut(h.rel, a, out)
	}
	// Cached when not stale: read-ahead's size, too.
	a, err := h.node.fs.fetchAttr(h.rel, func() (remote.Attr, error) { return h.f.Stat(ctx) })
	if err != nil {
		return h.node.fs.result("fgetattr", h.rel, err, nil)
	}
	return h.node.fs.fillAttrOut(h.rel, a, out)
}
