package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/fs/writeback"
	"github.com/sftpmount/sftpmount/remote"
)

// spoolHandle is an open(2) of a file waiting in the write-back journal
// (package writeback): reads and writes go to its data there.
type spoolHandle struct {
	node     *Node
	q        *writeback.Queue
	wf       *writeback.File
	writable bool
	append   bool
}

var (
	_ fusefs.FileReader    = (*spoolHandle)(nil)
	_ fusefs.FileWriter    = (*spoolHandle)(nil)
	_ fusefs.FileFlusher   = (*spoolHandle)(nil)
	_ fusefs.FileFsyncer   = (*spoolHandle)(nil)
	_ fusefs.FileReleaser  = (*spoolHandle)(nil)
	_ fusefs.FileGetattrer = (*spoolHandle)(nil)
)

func (h *spoolHandle) rel() string { return h.q.PathOf(h.wf) }

// createSpooled makes a new file in the journal: no round trip. The
// kernel sends CREATE only for a name it holds as absent; should another
// client have made it meanwhile, the upload keeps both (package writeback).
func (n *Node) createSpooled(ctx context.Context, name string, fl int, perm os.FileMode, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	rel := n.child(name)
	if n.fs.nameTooLong(rel) {
		return nil, nil, 0, n.fs.result("create", rel, syscall.ENAMETOOLONG, nil)
	}
	if strings.HasPrefix(name, writeback.TempPrefix) {
		return nil, nil, 0, n.fs.result("create", rel, syscall.EPERM, nil)
	}
	if !n.mayCreateIn(ctx) {
		return nil, nil, 0, 0 // the server's to refuse: made there (Create)
	}
	wf, err := n.fs.writeback.Create(rel, sysMode(perm)&^syscall.S_IFMT)
	if err != nil {
		return nil, nil, 0, n.fs.result("create (journal)", rel, err, nil)
	}
	n.fs.forget(rel)
	n.fs.added(rel)
	a, _ := n.fs.writeback.Attr(rel)
	n.fs.result("create (journal)", rel, nil, nil)
	ch := n.newChild(ctx, name, a, true, out)
	h := &spoolHandle{node: ch.Operations().(*Node), q: n.fs.writeback, wf: wf, writable: true, append: fl&os.O_APPEND != 0}
	n.fs.writeback.Open(wf, true)
	return ch, h, fuse.FOPEN_KEEP_CACHE, 0
}

// mayCreateIn reports whether the server would let the login user make
// a file in directory n, as far as n's mode and owner tell: false when
// they clearly do not (no write bit for the owner it is, or for anyone
// else), and the server's answer is then asked for (EACCES at once, not
// at the upload). Groups are not known: a group's bit counts as allowed.
func (n *Node) mayCreateIn(ctx context.Context) bool {
	a, err := n.fs.lookupAttr(ctx, n.rel())
	if err != nil {
		return false
	}
	uid, _ := n.fs.remote.LoginOwner()
	switch {
	case uid == 0:
		return true
	case a.UID == uid:
		return a.Mode.Perm()&0o200 != 0
	default:
		return a.Mode.Perm()&0o022 != 0
	}
}

// openSpooled opens a file waiting in the journal. nil: its upload has
// begun or ended, and a writer must go to the server once it has ended.
func (n *Node) openSpooled(ctx context.Context, wf *writeback.File, fl int) (fusefs.FileHandle, syscall.Errno) {
	q := n.fs.writeback
	writable := fl&(os.O_WRONLY|os.O_RDWR) != 0
	if !q.Open(wf, writable) {
		return nil, 0
	}
	h := &spoolHandle{node: n, q: q, wf: wf, writable: writable, append: fl&os.O_APPEND != 0}
	if fl&os.O_TRUNC != 0 {
		if errno := h.truncate(0); errno != 0 {
			q.Release(wf, writable)
			return nil, errno
		}
	}
	n.fs.result("open (journal)", h.rel(), nil, nil)
	return h, 0
}

func (h *spoolHandle) truncate(size uint64) syscall.Errno {
	ok, err := h.q.Change(h.wf, func(e *writeback.JournalEntry) error {
		return h.wf.Data().Truncate(int64(size))
	})
	if !ok {
		return syscall.EBUSY // not reached: a writable handle keeps the upload from starting
	}
	if err != nil {
		return h.node.fs.result("truncate (journal)", h.rel(), err, nil)
	}
	h.q.Wrote(h.wf)
	h.node.dropPages()
	return 0
}

func (h *spoolHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.wf.Data().ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.fs.result("read (journal)", h.rel(), err, nil)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *spoolHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if h.append && !fromPageCache(ctx) { // a page written back goes in place (file.go)
		fi, err := h.wf.Data().Stat()
		if err != nil {
			return 0, h.node.fs.result("write (journal)", h.rel(), err, nil)
		}
		off = fi.Size()
	}
	n, err := h.wf.Data().WriteAt(data, off)
	if n > 0 {
		h.q.Wrote(h.wf)
	}
	if err != nil {
		return uint32(n), h.node.fs.result("write (journal)", h.rel(), err, nil)
	}
	return uint32(n), 0
}

// Flush (close) returns once the file's bytes and attributes are synced
// in the journal.
func (h *spoolHandle) Flush(ctx context.Context) syscall.Errno {
	if !h.writable {
		return 0
	}
	return h.node.fs.result("flush (journal)", h.rel(), h.q.Commit(h.wf), nil)
}

// Fsync waits for the file's upload, as fsync(2) on a local disk waits
// for the disk.
func (h *spoolHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	rel := h.rel()
	if err := h.q.Commit(h.wf); err != nil {
		return h.node.fs.result("fsync (journal)", rel, err, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*h.node.fs.waitLimit())
	defer cancel()
	return h.node.fs.result("fsync (upload)", rel, h.q.Settle(ctx, h.wf), nil)
}

func (h *spoolHandle) Release(ctx context.Context) syscall.Errno {
	if h.writable {
		h.q.Commit(h.wf) // Flush has reported its error
	}
	h.q.Release(h.wf, h.writable)
	return h.node.fs.result("release (journal)", h.rel(), nil, nil)
}

func (h *spoolHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return h.node.Getattr(ctx, nil, out)
}

// spooledAttr answers getattr for a file waiting in the journal.
func (n *Node) spooledAttr(rel string, out *fuse.AttrOut) (syscall.Errno, bool) {
	a, ok := n.fs.writeback.Attr(rel)
	if !ok {
		return 0, false
	}
	errno := n.fs.fillAttrOut(rel, a, out)
	n.showLinks(&out.Attr)
	return errno, true
}

// setSpooled applies a setattr to a file waiting in the journal, whose
// upload has not begun; false: it has, and the caller waits for it and
// goes to the server.
func (n *Node) setSpooled(ctx context.Context, wf *writeback.File, r attrRequest, out *fuse.AttrOut) (syscall.Errno, bool) {
	rel := n.rel()
	uid, gid := r.uid, r.gid
	if uid != nil || gid != nil || r.ownerErr != 0 {
		if r.ownerErr != 0 {
			return n.fs.result("chown", rel, r.ownerErr, nil), true
		}
		// A change of owner is the server's to allow or refuse (EPERM):
		// made there, after the upload. tar's chown to the owner the
		// file has already costs nothing.
		cur, _ := n.fs.writeback.Attr(rel)
		if uid != nil && *uid != cur.UID || gid != nil && *gid != cur.GID {
			return 0, false
		}
		uid, gid = nil, nil
	}
	ok, err := n.fs.writeback.Change(wf, func(e *writeback.JournalEntry) error {
		if r.size != nil {
			if err := wf.Data().Truncate(int64(*r.size)); err != nil {
				return err
			}
			e.Mtime = time.Now().UnixNano()
		}
		if r.perm != nil {
			e.Mode = sysMode(*r.perm) & 07777
		}
		if uid != nil {
			e.UID = uid
		}
		if gid != nil {
			e.GID = gid
		}
		now := time.Now().UnixNano()
		if t, ok := r.mtime(); ok {
			e.Mtime = t.UnixNano()
			if r.valid&fuse.FATTR_MTIME_NOW != 0 {
				e.Mtime = now
			}
		}
		if t, ok := r.atime(); ok {
			e.Atime = t.UnixNano()
			if r.valid&fuse.FATTR_ATIME_NOW != 0 {
				e.Atime = now
			}
		}
		return nil
	})
	if !ok {
		return 0, false
	}
	if err != nil {
		return n.fs.result("setattr (journal)", rel, err, nil), true
	}
	if r.size != nil {
		n.dropPages()
		n.fs.writeback.Wrote(wf)
	}
	// Recorded within half a second, and synced by the file's next close
	// or fsync: as durable as the same change on a local disk (see
	// writeback's recorder).
	errno, _ := n.spooledAttr(rel, out)
	return n.fs.result("setattr (journal)", rel, errOf(errno), nil), true
}

// unlinkSpooled removes a file waiting in the journal whose upload has
// not begun: nothing of it is on the server, unless it was to replace a
// file there (false: the caller removes that). false too when its
// upload has begun.
func (n *Node) unlinkSpooled(name string, wf *writeback.File) bool {
	if dropped, onServer := n.fs.writeback.Drop(wf); !dropped || onServer {
		return false
	}
	rel := n.child(name)
	n.fs.forget(rel)
	n.fs.removed(rel)
	n.dropName(name)
	n.fs.result("unlink (journal)", rel, nil, nil)
	return true
}

// renameSpooled renames a file waiting in the journal, made here and not
// yet uploading, in the journal alone. false: the caller waits for its
// upload and renames on the server.
func (n *Node) renameSpooled(from, to string, wf *writeback.File, newParent *Node, name, newName string, flags uint32) (syscall.Errno, bool) {
	if flags&^renameNoReplace != 0 {
		return 0, false
	}
	noReplace := flags&renameNoReplace != 0
	// What is at to on the server now: the upload replaces it, unless
	// another client changes it first (writeback's conflicts).
	var base *remote.Attr
	if n.fs.writeback.Get(to) != nil {
		if noReplace {
			return n.fs.result("rename", from, syscall.EEXIST, nil), true
		}
	} else if a, ok := n.fs.attrs.Get(to); ok {
		base = &a // known: made or uploaded here, or listed lately
	} else if !n.fs.knownAbsent(to, time.Time{}) {
		if a, err := n.fs.remote.Lstat(context.Background(), to); err == nil {
			base = &a
		}
	}
	if base != nil {
		if noReplace {
			return n.fs.result("rename", from, syscall.EEXIST, nil), true
		}
		if !base.Mode.IsRegular() {
			return 0, false // a directory (EISDIR) or a link: the server's to say
		}
	}
	if !n.fs.writeback.Move(wf, to, base) {
		return 0, false
	}
	n.fs.forget(from)
	n.fs.forget(to)
	n.fs.removed(from)
	n.fs.added(to)
	n.fs.moved(n, name, newParent, newName)
	return n.fs.result("rename (journal)", from+" -> "+to, nil, nil), true
}

// isTemp reports whether name is an upload's temporary name.
func isTemp(name string) bool { return strings.HasPrefix(path.Base(name), writeback.TempPrefix) }

// spooledEntries lists the files in the journal given by Queue.In, by name.
func spooledEntries(m map[string]remote.Attr) []remote.DirEntry {
	out := make([]remote.DirEntry, 0, len(m))
	for name, a := range m {
		out = append(out, remote.DirEntry{Name: name, Attr: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// withSpooled adds to entries, a listing of dir from the server, the
// files of ours in the journal that it lacks.
func (f *FS) withSpooled(dir string, entries []remote.DirEntry) []remote.DirEntry {
	m := f.writeback.In(dir)
	if m == nil {
		return entries
	}
	for _, e := range entries {
		delete(m, e.Name)
	}
	return append(entries, spooledEntries(m)...)
}
