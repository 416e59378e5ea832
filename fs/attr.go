package fs

import (
	"context"
	"os"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// sysMode converts Go's mode bits to the kernel's st_mode.
func sysMode(m os.FileMode) uint32 {
	out := uint32(m.Perm())
	switch {
	case m.IsDir():
		out |= syscall.S_IFDIR
	case m&os.ModeSymlink != 0:
		out |= syscall.S_IFLNK
	case m&os.ModeNamedPipe != 0:
		out |= syscall.S_IFIFO
	case m&os.ModeSocket != 0:
		out |= syscall.S_IFSOCK
	case m&os.ModeCharDevice != 0:
		out |= syscall.S_IFCHR
	case m&os.ModeDevice != 0:
		out |= syscall.S_IFBLK
	default:
		out |= syscall.S_IFREG
	}
	if m&os.ModeSetuid != 0 {
		out |= syscall.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		out |= syscall.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		out |= syscall.S_ISVTX
	}
	return out
}

// goMode converts the kernel's permission bits (07777) to Go's.
func goMode(perm uint32) os.FileMode {
	m := os.FileMode(perm & 0777)
	if perm&syscall.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if perm&syscall.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if perm&syscall.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

func fillAttr(a remote.Attr, out *fuse.Attr) {
	out.Mode = sysMode(a.Mode)
	out.Size = a.Size
	out.Blocks = (a.Size + 511) / 512
	out.Blksize = 4096
	out.Nlink = max(a.Nlink, 1) // from the listing; 1 where none told (showLinks)
	out.Uid, out.Gid = a.UID, a.GID
	// SFTP v3 has no ctime; mtime is the closest a tool like make can
	// use. A bulk answer (tree.go) tells the server's.
	ctime := a.Mtime
	if !a.Ctime.IsZero() {
		ctime = a.Ctime
	}
	out.SetTimes(&a.Atime, &a.Mtime, &ctime)
}

// fillEntry and fillAttrOut fill a reply about rel. The kernel may keep
// it for its timeout, but no longer than our own cache keeps rel's
// attributes: an answer given from the cache near the end of its life
// would otherwise be kept twice as long in all.
func (f *FS) fillEntry(rel string, a remote.Attr, out *fuse.EntryOut) {
	a = f.writeback.DirShown(rel, a)
	fillAttr(f.withLinks(rel, f.keptTimes(rel, f.withTold(rel, a))), &out.Attr)
	f.opts.Owner.show(&out.Attr)
	out.SetEntryTimeout(f.kernelTimeout(rel, f.opts.Caches.KernelEntry))
	out.SetAttrTimeout(f.kernelTimeout(rel, f.opts.Caches.KernelAttr))
}

// fillAttrOut fills a getattr or setattr reply; EPERM for an owner that
// idmap=file cannot map under nomap=error.
func (f *FS) fillAttrOut(rel string, a remote.Attr, out *fuse.AttrOut) syscall.Errno {
	if errno := f.opts.Owner.check(a); errno != 0 {
		return errno
	}
	a = f.writeback.DirShown(rel, a)
	fillAttr(f.withLinks(rel, f.keptTimes(rel, f.withTold(rel, a))), &out.Attr)
	f.opts.Owner.show(&out.Attr)
	out.SetTimeout(f.kernelTimeout(rel, f.opts.Caches.KernelAttr))
	return 0
}

func (f *FS) kernelTimeout(rel string, d time.Duration) time.Duration {
	if left, ok := f.attrs.Left(rel); ok {
		return min(d, left)
	}
	return d
}

// lstat answers from the attribute cache or asks the server, once the
// changes a new file holds back are there.
func (f *FS) lstat(ctx context.Context, rel string) (remote.Attr, error) {
	if a, ok := f.attrs.Get(rel); ok {
		return a, nil
	}
	f.quiesce(ctx, sendHeld, paths(at(rel)))
	return f.fetchAttr(rel, func() (remote.Attr, error) { return f.remote.Lstat(ctx, rel) })
}

// fresh asks the server, bypassing and then refilling the cache.
func (f *FS) fresh(ctx context.Context, rel string) (remote.Attr, error) {
	f.staleAttr(rel)
	return f.lstat(ctx, rel)
}

// Getattr serves stat(2). With an open handle (fstat, and any stat of an
// open file, as go-fuse passes one along) it asks through the handle, which
// keeps working after the name is unlinked or renamed on the server.
func (n *Node) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if h, ok := fh.(*fileHandle); ok {
		errno := h.Getattr(ctx, out)
		if errno == 0 && n.unlinked() {
			out.Nlink = 0
		} else if errno == 0 {
			n.showLinks(&out.Attr)
		}
		return errno
	}
	rel := n.rel()
	if errno, ok := n.spooledAttr(rel, out); ok {
		return errno
	}
	n.fs.quiesce(ctx, landWrites, ofNode(n))
	a, err := n.fs.lookupAttr(ctx, rel)
	if err != nil {
		return n.fs.result("getattr", rel, n.goneIfMissing(rel, err), nil)
	}
	if !n.IsRoot() && sysMode(a.Mode)&syscall.S_IFMT != n.StableAttr().Mode {
		// Another object under the name now (a file replaced by a
		// directory): this node's object is gone, as on NFS.
		n.retire()
		return n.fs.result("getattr", rel, syscall.ESTALE, nil)
	}
	if errno := n.fs.fillAttrOut(rel, a, out); errno != 0 {
		return n.fs.result("getattr", rel, errno, nil)
	}
	n.showLinks(&out.Attr)
	return 0
}

// Setattr serves chmod, chown, truncate and utimes. Each change is its own
// SFTP request, in the order a local disk would apply them; those of a new
// file being written by its creator wait for its data (see held.go).
func (n *Node) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	// go-fuse fills in the number for GETATTR but not for SETATTR, and
	// the kernel takes st_ino from either reply.
	defer func() { out.Ino = n.StableAttr().Ino; n.showLinks(&out.Attr) }()
	rel := n.rel()
	r := n.fs.decodeSetAttr(in)
	if r.valid&(fuse.FATTR_SIZE|fuse.FATTR_MTIME) != 0 {
		n.dropPages()
	}
	// A symlink's own owner and times go by lsetstat@openssh.com
	// (remote/wire): SFTP v3's setstat would change the link's target.
	// Its mode cannot be set on Linux at all; ENOTSUP, as for a server
	// without the extension, is what tar and rsync expect then.
	link := n.StableAttr().Mode == syscall.S_IFLNK && !n.fs.opts.FollowSymlinks
	if link && r.perm != nil {
		return n.fs.result("setattr", rel, syscall.ENOTSUP, nil)
	}
	for try := 0; try < 3; try++ {
		wf := n.fs.writeback.Get(rel)
		if wf == nil {
			break
		}
		if errno, ok := n.setSpooled(ctx, wf, r, out); ok {
			return errno
		}
		n.fs.quiesce(ctx, uploadJournal, paths(at(rel))) // uploading: the change goes to the journal, or the server, after it
	}
	if n.deferSetattr(ctx, r, out) {
		return n.fs.result("setattr (sent at close)", rel, nil, nil)
	}
	given, _ := fh.(*fileHandle) // the kernel passes one with ftruncate only
	s := attrSetting{n: n, rel: rel, h: given, given: given != nil, link: link}
	if s.h == nil {
		if s.h = n.openFile(); s.h != nil {
			defer s.h.inUse.RUnlock()
		}
	}
	// Where the changes go: the open file's own handle, else by path,
	// not following a symlink put in the place of a name the mount
	// knows is none (remote/setattr.go).
	s.set = n.fs.byPath(rel)
	if s.h != nil {
		s.set = s.h.f
	}
	// Queued writes land first: they would undo a truncate or bump the
	// mtime just set. chmod and chown need not wait for them, only for
	// the changes asked before them.
	if r.valid&(fuse.FATTR_SIZE|fuse.FATTR_MTIME|fuse.FATTR_ATIME) != 0 {
		n.fs.quiesce(ctx, landWrites, ofNode(n))
	} else {
		n.fs.quiesce(ctx, sendHeld, ofNode(n))
	}
	defer n.forgetReadAhead()
	// Start from what the file looks like now (cached after a create or a
	// listing, else one stat) and apply each change to it, so a setattr
	// costs one request per change and no stat afterwards.
	var err error
	if s.cur, err = n.current(ctx, s.h, rel); err != nil {
		return n.fs.result("setattr", rel, err, nil)
	}
	n.fs.changing(rel)
	for _, step := range []func(context.Context, attrRequest) syscall.Errno{s.size, s.mode, s.owner, s.times} {
		if errno := step(ctx, r); errno != 0 {
			return errno
		}
	}
	n.fs.touched(rel)
	if !n.unlinked() {
		n.fs.attrIs(rel, s.cur)
	}
	return n.fs.result("setattr", rel, errOf(n.fs.fillAttrOut(rel, s.cur, out)), nil)
}

// attrSetting is one setattr on its way to the server, a change at a
// time, in the order size, mode, owner, times: where the changes go, and
// the file as it is once each has been made.
type attrSetting struct {
	n         *Node
	rel       string
	h         *fileHandle // the file's open handle, if any
	given     bool        // h is the one the kernel passed (ftruncate)
	set       remote.AttrSetter
	link      bool        // a symlink's own attributes
	cur       remote.Attr // the file as it is after the changes made so far
	truncated bool        // the size was set: the server gave a new mtime
}

func (s *attrSetting) size(ctx context.Context, r attrRequest) syscall.Errno {
	if r.size == nil {
		return 0
	}
	size, h, n := *r.size, s.h, s.n
	var err error
	if h != nil && (s.given || h.writable) { // not a read-only handle's: EBADF
		h.invalidateReadAhead()
		err = h.f.Truncate(ctx, size)
	} else {
		err = n.fs.remote.Truncate(ctx, s.rel, size)
	}
	if err != nil {
		return n.fs.result("truncate", s.rel, err, n.explainWrite(ctx, s.rel))
	}
	s.cur.Size, s.truncated = size, true
	n.fs.truncated(s.rel, int64(size))
	return 0
}

func (s *attrSetting) mode(ctx context.Context, r attrRequest) syscall.Errno {
	if r.perm == nil {
		return 0
	}
	perm := *r.perm
	if err := s.set.Chmod(ctx, perm); err != nil {
		return notOwner(s.n.fs.result("chmod", s.rel, err, s.n.explainSetattr(ctx, s.rel)))
	}
	s.cur.Mode = s.cur.Mode&os.ModeType | perm
	return 0
}

func (s *attrSetting) owner(ctx context.Context, r attrRequest) syscall.Errno {
	if r.uid == nil && r.gid == nil && r.ownerErr == 0 {
		return 0
	}
	f := s.n.fs
	if r.ownerErr != 0 {
		return f.result("chown", s.rel, r.ownerErr, nil)
	}
	uid, gid := s.cur.UID, s.cur.GID
	if r.uid != nil {
		uid = *r.uid
	}
	if r.gid != nil {
		gid = *r.gid
	}
	chown := s.set.Chown
	if s.link {
		chown = func(ctx context.Context, uid, gid uint32) error { return f.remote.LChown(ctx, s.rel, uid, gid) }
	}
	if err := chown(ctx, uid, gid); err != nil {
		return notOwner(f.result("chown", s.rel, err, s.n.explainSetattr(ctx, s.rel)))
	}
	s.cur.UID, s.cur.GID = uid, gid
	return 0
}

func (s *attrSetting) times(ctx context.Context, r attrRequest) syscall.Errno {
	f := s.n.fs
	mtime, mok := r.mtime()
	atime, aok := r.atime()
	if mok != aok {
		// SFTP sets both times at once: the one not being changed must
		// be the server's own, not a cached copy another client may have
		// changed since.
		fresh, err := s.n.serverAttr(ctx, s.h, s.rel)
		if err != nil {
			return f.result("setattr", s.rel, err, nil)
		}
		s.cur.Atime, s.cur.Mtime = fresh.Atime, fresh.Mtime
	}
	if !mok && !aok {
		if s.truncated {
			// The server gave the file a new mtime; ask for it (not the
			// cache: a listing may have filled it meanwhile).
			cur, err := s.n.serverAttr(ctx, s.h, s.rel)
			if err != nil {
				return f.result("setattr", s.rel, err, nil)
			}
			s.cur = cur
		}
		return 0
	}
	// SFTP sets both times at once, in whole seconds; keep the one not
	// being changed.
	if mok {
		s.cur.Mtime = time.Unix(mtime.Unix(), 0)
	}
	if aok {
		s.cur.Atime = time.Unix(atime.Unix(), 0)
	}
	chtimes := s.set.Chtimes
	if s.link {
		chtimes = func(ctx context.Context, a remote.Attr) error { return f.remote.LChtimes(ctx, s.rel, a) }
	}
	if err := chtimes(ctx, s.cur); err != nil {
		return f.result("utimens", s.rel, err, s.n.explainSetattr(ctx, s.rel))
	}
	if s.cur.Mode.IsDir() {
		f.writeback.SetDirTimes(s.rel, s.cur)
	}
	return 0
}

// attrRequest is a SETATTR decoded once, for the three places that apply
// one: on the server (Setattr), held with a new file's data (held.go), and
// in the write-back journal (wbhandle.go). A field is nil when not asked.
type attrRequest struct {
	in       *fuse.SetAttrIn
	valid    uint32 // the kernel's fuse.FATTR_* bits
	size     *uint64
	perm     *os.FileMode // permissions, setuid, setgid and sticky included
	uid, gid *uint32      // the server's ids (Owner.toRemote)
	ownerErr syscall.Errno
}

// mtime and atime are the times asked for, read when they are applied:
// "now" (FATTR_MTIME_NOW, FATTR_ATIME_NOW) is our clock's at that moment.
func (r attrRequest) mtime() (time.Time, bool) { return r.in.GetMTime() }
func (r attrRequest) atime() (time.Time, bool) { return r.in.GetATime() }

// decodeSetAttr reads in. ownerErr is set, and uid and gid are not, when
// idmap cannot map the owner asked for (EPERM under nomap=error): the
// chown fails with it.
func (f *FS) decodeSetAttr(in *fuse.SetAttrIn) attrRequest {
	r := attrRequest{in: in, valid: in.Valid}
	if size, ok := in.GetSize(); ok {
		r.size = &size
	}
	if mode, ok := in.GetMode(); ok {
		perm := goMode(mode)
		r.perm = &perm
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		uid, gid, errno := f.opts.Owner.toRemote(uid, gid, uok, gok)
		switch {
		case errno != 0:
			r.ownerErr = errno
		default:
			if uok {
				r.uid = &uid
			}
			if gok {
				r.gid = &gid
			}
		}
	}
	return r
}

// openFile is the open file a setattr that came without a handle
// changes, a writable one first; nil when the node has none open. The
// kernel passes a handle with ftruncate only: an fchmod, fchown or
// futimens, and a chmod by path of a file that is open, come without, but
// they mean the file the program opened, which its handle names whatever
// the name names on the server now.
//
// The kernel may release that handle meanwhile (it is not the call's):
// the one returned is held (inUse, read), so that its Release waits for
// the caller's RUnlock; one already being released is passed over.
func (n *Node) openFile() *fileHandle {
	var best *fileHandle
	for _, h := range n.openHandles() {
		if (best == nil || h.writable && !best.writable) && h.inUse.TryRLock() {
			if best != nil {
				best.inUse.RUnlock()
			}
			best = h
		}
	}
	return best
}

// byPath is where a change of rel by path goes: not following a final
// symlink (the mount knows rel is none), unless follow_symlinks shows
// links as what they point to.
func (f *FS) byPath(rel string) remote.AttrSetter {
	return f.remote.Path(rel, f.opts.FollowSymlinks)
}

// current returns the file's attributes: from the cache, else through the
// handle when there is one (the name may be gone), else one lstat.
func (n *Node) current(ctx context.Context, h *fileHandle, rel string) (remote.Attr, error) {
	if a, ok := n.fs.attrs.Get(rel); ok && !n.unlinked() {
		return a, nil
	}
	if h != nil {
		return h.f.Stat(ctx)
	}
	return n.fs.lstat(ctx, rel)
}

// serverAttr asks the server: through the handle when there is one.
func (n *Node) serverAttr(ctx context.Context, h *fileHandle, rel string) (remote.Attr, error) {
	if h != nil {
		return h.f.Stat(ctx)
	}
	return n.fs.remote.Lstat(ctx, rel)
}

// unlinked reports whether the node lost its last name through this mount.
func (n *Node) unlinked() bool {
	_, parent := n.Parent()
	return parent == nil && !n.IsRoot()
}

// notOwner turns a permission refusal of chmod or chown into EPERM, as
// POSIX has it: the server says "permission denied" for both, but locally
// EACCES is for path search and EPERM for "you do not own this file".
func notOwner(errno syscall.Errno) syscall.Errno {
	if errno == syscall.EACCES {
		return syscall.EPERM
	}
	return errno
}
