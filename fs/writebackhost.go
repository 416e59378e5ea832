package fs

import (
	"context"
	"os"
	"path"
	"syscall"

	"github.com/sftpmount/sftpmount/fs/writeback"
	"github.com/sftpmount/sftpmount/remote"
)

// The mount as write-back (package writeback) sees it: writebackHost is
// what it keeps of a path (caches, the kernel's nodes) and how it reads
// errors; writebackRemote is the server, changes by path going where the
// mount's own go (byPath).

type writebackHost struct{ f *FS }

var _ writeback.Host = writebackHost{}

func (h writebackHost) NewFileOwner(dir string) (uid, gid uint32, ok bool) {
	a, ok := h.f.newFiles.Get(dir)
	return a.UID, a.GID, ok
}

func (h writebackHost) Result(op, rel string, err error) { h.f.result(op, rel, err, nil) }

func (h writebackHost) Uploaded(rel string, shown *remote.Attr) {
	f := h.f
	f.settled(rel, nil, true)
	f.touched(rel)
	if shown == nil {
		return
	}
	a := *shown
	f.attrIs(rel, a)
	if n := f.nodeAt(rel); n != nil {
		n.mu.Lock()
		n.pages = &a
		n.mu.Unlock()
	}
}

func (h writebackHost) Kept(rel string, closed bool) {
	f := h.f
	f.forget(rel)
	f.unsure(rel)
	if !closed {
		return
	}
	if n := f.nodeAt(rel); n != nil {
		n.dropPages()
		f.bg.Go(func(context.Context) { n.NotifyContent(-1, 0) })
	}
	if d := f.nodeAt(parentOf(rel)); d != nil {
		f.bg.Go(func(context.Context) { d.NotifyEntry(path.Base(rel)) })
	}
}

func (h writebackHost) DirTimesSet(dir string)      { h.f.staleAttr(dir) }
func (writebackHost) Mode(perm uint32) os.FileMode  { return goMode(perm) }
func (writebackHost) Errno(err error) syscall.Errno { return errnoOf(err) }
func (writebackHost) Answered(err error) bool       { _, ok := statusCode(err); return ok }
func (writebackHost) IsFailure(err error) bool      { return isFailure(err) }

type writebackRemote struct{ f *FS }

var _ writeback.Remote = writebackRemote{}

func (r writebackRemote) LoginOwner() (uid, gid uint32) { return r.f.remote.LoginOwner() }

func (r writebackRemote) Lstat(ctx context.Context, rel string) (remote.Attr, error) {
	return r.f.remote.Lstat(ctx, rel)
}

func (r writebackRemote) Create(ctx context.Context, rel string) (writeback.RemoteFile, error) {
	rf, err := r.f.remote.OpenFile(ctx, rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return rf, nil
}

func (r writebackRemote) Remove(ctx context.Context, rel string) error {
	return r.f.remote.Remove(ctx, rel)
}

func (r writebackRemote) Rename(ctx context.Context, from, to string) error {
	return r.f.remote.Rename(ctx, from, to)
}

func (r writebackRemote) StatFS(ctx context.Context, rel string) (remote.StatFS, error) {
	return r.f.remote.StatFS(ctx, rel)
}

func (r writebackRemote) Chtimes(ctx context.Context, rel string, a remote.Attr) error {
	return r.f.byPath(rel).Chtimes(ctx, a)
}

// Status reports the write-back queue; zero when there is no journal.
func (f *FS) Status() writeback.Status { return f.writeback.Status() }

// Sync uploads everything in the write-back journal, failed files again
// too, and returns once each upload has ended or ctx has: the files not
// uploaded, with why.
func (f *FS) Sync(ctx context.Context) []writeback.Failure { return f.writeback.Sync(ctx) }
