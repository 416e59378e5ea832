package fs

import (
	"context"
	"strings"
	"sync"
)

// Every handle this mount has open on a server file (fileHandle; a file
// waiting in the write-back journal has spoolHandles, spooled.go's) is
// filed in one table: by the node it was opened on, which is what the
// reads, writes and setattrs of one file look at; the writable ones by
// the path they were opened at, which is what an answer fetched by path
// waits for (fetch.go); the handles of new files that hold changes back
// (held.go); and the handles opened without asking the server (open.go),
// whose remote handle may not be open yet.
//
// Before a call looks at or changes the server's copy of a path, what the
// mount holds for it must be there: quiesce does that, always in the one
// order of quiet. Each kernel call asks for the steps it needs and says
// why; none repeats them by hand.

// handleTable is every open fileHandle of the mount.
type handleTable struct {
	// mu guards the maps below. It is held for no call out of the
	// table but a look at a handle's queued writes (busy: Pending, the
	// WriteBehind's own lock, after this one): a flush, a wait or a
	// round trip runs on a copy of the handles taken under it.
	mu     sync.Mutex
	byNode map[*Node]map[*fileHandle]struct{}  // every handle, by the node it was opened on
	byPath map[string]map[*fileHandle]struct{} // writable handles, by the path they were opened at
	held   map[*fileHandle]struct{}            // handles of new files that may hold changes back (held.go)
	lazy   map[*fileHandle]struct{}            // handles opened without asking, the remote handle maybe not yet open (open.go)
}

func newHandleTable() handleTable {
	return handleTable{
		byNode: map[*Node]map[*fileHandle]struct{}{},
		byPath: map[string]map[*fileHandle]struct{}{},
		held:   map[*fileHandle]struct{}{},
		lazy:   map[*fileHandle]struct{}{},
	}
}

func addTo[K comparable](m map[K]map[*fileHandle]struct{}, k K, h *fileHandle) {
	if m[k] == nil {
		m[k] = map[*fileHandle]struct{}{}
	}
	m[k][h] = struct{}{}
}

func dropFrom[K comparable](m map[K]map[*fileHandle]struct{}, k K, h *fileHandle) {
	delete(m[k], h)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// add files h by its node, by its path if it may write (h.writable is
// set), and as holding changes back if it does (h.held).
func (t *handleTable) add(h *fileHandle) {
	t.mu.Lock()
	_, had := t.byNode[h.node][h]
	addTo(t.byNode, h.node, h)
	if h.writable {
		addTo(t.byPath, h.rel, h)
	}
	if h.held != nil {
		t.held[h] = struct{}{}
	}
	t.mu.Unlock()
	if !had {
		h.node.fs.ids.Opened(&h.node.id, 1) // a dying node with an open file keeps its number
	}
}

// addLazy files h, opened without asking, where quiesce finds it.
func (t *handleTable) addLazy(h *fileHandle) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lazy[h] = struct{}{}
}

// remove forgets h everywhere, at its release.
func (t *handleTable) remove(h *fileHandle) {
	t.mu.Lock()
	_, had := t.byNode[h.node][h]
	delete(t.lazy, h)
	dropFrom(t.byNode, h.node, h)
	delete(t.held, h)
	dropFrom(t.byPath, h.rel, h)
	t.mu.Unlock()
	if had {
		h.node.fs.ids.Opened(&h.node.id, -1)
	}
}

// of lists n's handles, to be waited on without the table's lock.
func (t *handleTable) of(n *Node) []*fileHandle {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs := make([]*fileHandle, 0, len(t.byNode[n]))
	for h := range t.byNode[n] {
		hs = append(hs, h)
	}
	return hs
}

// writersAt lists the writable handles opened at the paths match accepts.
func (t *handleTable) writersAt(match func(rel string) bool) []*fileHandle {
	t.mu.Lock()
	defer t.mu.Unlock()
	var hs []*fileHandle
	for rel, m := range t.byPath {
		if match(rel) {
			for h := range m {
				hs = append(hs, h)
			}
		}
	}
	return hs
}

// where lists the handles of set (held or lazy) whose node's path match
// accepts now. An unlinked file has no path to match: its held changes
// were sent, and its lazy handle opened, before it lost its name.
func (t *handleTable) where(set map[*fileHandle]struct{}, match func(rel string) bool) []*fileHandle {
	t.mu.Lock()
	hs := make([]*fileHandle, 0, len(set))
	for h := range set {
		hs = append(hs, h)
	}
	t.mu.Unlock()
	// The node's path is asked without the table's lock: it takes
	// go-fuse's tree lock.
	matched := hs[:0]
	for _, h := range hs {
		if !h.node.unlinked() && match(h.node.rel()) {
			matched = append(matched, h)
		}
	}
	return matched
}

func (n *Node) hasHandles() bool {
	t := &n.fs.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byNode[n]) > 0
}

// hasWriters reports whether a handle that may write the file is open:
// while one is, the cached mtime may be our own estimate (see wrote). A
// reader's handle changes nothing; the kernel releases it after close(2)
// has returned, so the next open may come before that release.
func (n *Node) hasWriters() bool {
	t := &n.fs.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	for h := range t.byNode[n] {
		if h.writable {
			return true
		}
	}
	return false
}

// openHandles lists the file's handles, to be waited on without a lock.
func (n *Node) openHandles() []*fileHandle { return n.fs.handles.of(n) }

// forgetReadAhead drops what every handle read ahead, after a change by
// path (a truncate) or through any one handle (a write) made it stale.
func (n *Node) forgetReadAhead() {
	for _, h := range n.openHandles() {
		h.invalidateReadAhead()
	}
}

// busy reports whether a handle opened at rel has writes on their way or
// holds a new file's changes back.
func (f *FS) busy(rel string) bool {
	t := &f.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	for h := range t.byPath[rel] {
		if h.held != nil || h.appending.Load() > 0 || (h.behind != nil && h.behind.Pending()) {
			return true
		}
	}
	return false
}

// writtenEnd is how far the writes of the handles opened at rel reach.
func (f *FS) writtenEnd(rel string) int64 {
	t := &f.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	var end int64
	for h := range t.byPath[rel] {
		end = max(end, h.end.Load())
	}
	return end
}

// truncated lowers what the writes of rel's handles reach to size.
func (f *FS) truncated(rel string, size int64) {
	t := &f.handles
	t.mu.Lock()
	defer t.mu.Unlock()
	for h := range t.byPath[rel] {
		for cur := h.end.Load(); cur > size && !h.end.CompareAndSwap(cur, size); cur = h.end.Load() {
		}
	}
}

// waitWrites blocks until no handle of this file has a write overlapping
// [off, end) in flight, so that a read through any handle sees what was
// written through any other. It reports whether any write is still
// pending, or the error that ended the wait (the read must not go on).
func (n *Node) waitWrites(off, end int64) (pending bool, err error) {
	for _, h := range n.openHandles() {
		if h.behind != nil {
			// Held at a new file's gate, they would wait for its
			// creator's close: the reader cannot.
			if h.behind.Pending() {
				h.letDataGo()
			}
			if err := h.behind.WaitRange(off, end); err != nil {
				return false, err
			}
			pending = pending || h.behind.Pending()
		}
	}
	return pending, nil
}

// quiet is what a quiesce makes land. The steps run in the order below,
// each over the whole scope before the next:
//  1. sendHeld: held changes go by path, so they reach the file at the
//     name it has now, before a rename moves it or an unlink takes it.
//  2. landWrites: queued writes land; a new file's held changes go
//     behind them (a handle's flush sends both).
//  3. uploadJournal: files of ours in the write-back journal are
//     uploaded, so the server has them before it is asked to move,
//     replace or link them.
//  4. openLazy: handles opened without asking open their remote handle,
//     last, right before the call that takes the path from them: one
//     opened after it would find another file there, or none.
//
// Errors stay with the handles (and the journal), which report them.
type quiet uint8

const (
	sendHeld quiet = 1 << iota
	landWrites
	uploadJournal
	openLazy
)

// A scope is what a quiesce covers: one node's handles, whatever path
// they were opened at, or the paths a match accepts (the handles opened
// at them, the files at them now, and the journal's files there).
type scope struct {
	node  *Node
	match func(rel string) bool
}

// ofNode covers n's own handles: the file a call by node means, whatever
// its name on the server. Only sendHeld and landWrites concern handles
// alone; the journal and lazy opens are found by path.
func ofNode(n *Node) scope { return scope{node: n} }

// paths covers every path match accepts.
func paths(match func(rel string) bool) scope { return scope{match: match} }

// at matches rel itself; under matches rel and everything below it;
// inDir matches the entries of dir.
func at(rel string) func(string) bool { return func(p string) bool { return p == rel } }

func under(rel string) func(string) bool {
	return func(p string) bool { return rel == "" || p == rel || strings.HasPrefix(p, rel+"/") }
}

func inDir(dir string) func(string) bool {
	return func(p string) bool { return parentOf(p) == dir }
}

// quiesce makes what the mount holds for the scopes land on the server,
// the steps of what in quiet's order, and within a step the scopes in
// the order given (rename: the source before the target). It reports
// whether any handle held changes back (sendHeld): a listing made before
// they were sent would not show them.
func (f *FS) quiesce(ctx context.Context, what quiet, scopes ...scope) (held bool) {
	if what&sendHeld != 0 {
		for _, s := range scopes {
			for _, h := range f.heldIn(s) {
				h.flush()
				held = true
			}
		}
	}
	if what&landWrites != 0 {
		for _, s := range scopes {
			for _, h := range f.writersIn(s) {
				h.flush()
			}
		}
	}
	if what&uploadJournal != 0 {
		for _, s := range scopes {
			if s.match != nil {
				f.writeback.Wait(ctx, s.match)
			}
		}
	}
	if what&openLazy != 0 {
		for _, s := range scopes {
			if s.match == nil {
				continue
			}
			for _, h := range f.handles.where(f.handles.lazy, s.match) {
				if err := h.f.Opened(ctx); err != nil {
					f.result("open", h.rel, err, nil) // logged: its reads will fail the same way
				}
			}
		}
	}
	return held
}

// heldIn lists the handles of s that may hold a new file's changes back.
func (f *FS) heldIn(s scope) []*fileHandle {
	if s.node == nil {
		return f.handles.where(f.handles.held, s.match)
	}
	var hs []*fileHandle
	for _, h := range s.node.openHandles() {
		if h.held != nil {
			hs = append(hs, h)
		}
	}
	return hs
}

// writersIn lists the handles of s whose queued writes land: all of a
// node's, or the writable ones opened at the paths.
func (f *FS) writersIn(s scope) []*fileHandle {
	if s.node != nil {
		return s.node.openHandles()
	}
	return f.handles.writersAt(s.match)
}
