package fs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// deferrable are the Setattr fields a new file's handle may hold back:
// not a size (it must stay in order with the writes), not a time "now"
// (the server's clock should say), not a call through a handle
// (ftruncate), nothing unknown.
const deferrable = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_ATIME | fuse.FATTR_MTIME

// deferSetattr hands a chmod, chown or utimes of a file made by createNew
// to its handle, which sends it with the data at close (see pending.go),
// and answers with the attributes the file will have. It declines (false)
// when the file has another handle open, when the caller is not the
// process that created it (the error would reach the wrong process's
// close), for a setuid or setgid mode, and for a chown of a file with one
// (the server clears the bits at a chown: it must come first, or last).
func (n *Node) deferSetattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) bool {
	if in.Valid&^deferrable != 0 {
		return false
	}
	hs := n.openHandles()
	if len(hs) != 1 || hs[0].later == nil || n.unlinked() {
		return false
	}
	h := hs[0]
	caller, ok := ctx.(*fuse.Context)
	if !ok || !sameProcess(caller.Pid, h.later.pid) {
		return false
	}
	rel := n.rel()
	cur, ok := n.fs.attrs.Get(rel)
	if !ok {
		return false
	}
	var c change
	if mode, ok := in.GetMode(); ok {
		if mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
			return false
		}
		m := goMode(mode)
		c.mode = &m
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	uid, gid, errno := n.fs.opts.Owner.toRemote(uid, gid, uok, gok)
	if errno != 0 {
		return false // the setattr itself says so
	}
	if uok {
		c.uid = &uid
	}
	if gok {
		c.gid = &gid
	}
	if t, ok := in.GetMTime(); ok {
		c.mtime = &t
	}
	if t, ok := in.GetATime(); ok {
		c.atime = &t
	}
	if n.fs.opts.Owner.check(cur) != 0 {
		return false // the setattr itself says so
	}
	a, ok := h.later.record(c, cur)
	if !ok {
		return false
	}
	n.fs.attrs.Put(rel, a)
	n.fs.fillAttrOut(rel, a, out) // its owner is checked above
	out.SetTimeout(0)             // not on the server yet: see createNew
	return true
}

// settlePending sends what the node's new-file handles hold back, before
// a change that must come after it.
func (n *Node) settlePending() {
	for _, h := range n.openHandles() {
		if h.later != nil {
			h.flush() // an error stays with the handle, which reports it
		}
	}
}

// addPending and dropPending keep the handles that may hold changes back,
// for settleWhere.
func (f *FS) addPending(h *fileHandle) {
	f.pendingMu.Lock()
	defer f.pendingMu.Unlock()
	f.pending[h] = struct{}{}
}

func (f *FS) dropPending(h *fileHandle) {
	f.pendingMu.Lock()
	defer f.pendingMu.Unlock()
	delete(f.pending, h)
}

// settleWhere sends what the handles of files whose path match accepts
// hold back: changes are sent by path, so a rename or an unlink waits
// for them, and a listing or a stat from the server must show them. It
// reports whether there were any.
func (f *FS) settleWhere(match func(rel string) bool) bool {
	f.pendingMu.Lock()
	hs := make([]*fileHandle, 0, len(f.pending))
	for h := range f.pending {
		hs = append(hs, h)
	}
	f.pendingMu.Unlock()
	any := false
	for _, h := range hs {
		// An unlinked file has no path to match, and had its changes
		// sent before it lost its name.
		if !h.node.unlinked() && match(h.node.rel()) {
			h.flush()
			any = true
		}
	}
	return any
}

// at matches rel itself; under matches rel and everything below it.
func at(rel string) func(string) bool { return func(p string) bool { return p == rel } }

func under(rel string) func(string) bool {
	return func(p string) bool { return rel == "" || p == rel || strings.HasPrefix(p, rel+"/") }
}

// sameProcess reports whether threads a and b (FUSE names the calling
// thread) belong to one process.
func sameProcess(a, b uint32) bool {
	if a == b {
		return true
	}
	ta, ok := threadGroup(a)
	tb, ok2 := threadGroup(b)
	return ok && ok2 && ta == tb
}

// threadGroup is the process id of thread tid, from /proc; false when the
// thread is gone.
func threadGroup(tid uint32) (string, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return "", false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Tgid:"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
