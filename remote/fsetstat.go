package remote

import (
	"context"
	"errors"
	"os"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/pkg/sftp"
)

// Chmod, Chown and Chtimes change the open file through its handle
// (FSETSTAT): the file this File opened, whatever its name names now (see
// setattr.go). File is an AttrSetter.
func (f *File) Chmod(ctx context.Context, mode os.FileMode) error {
	return f.setAttrs(ctx, "fchmod", func(p AttrSetter) error { return p.Chmod(ctx, mode) }, func(h *sftp.File) error {
		return h.Chmod(mode)
	})
}

func (f *File) Chown(ctx context.Context, uid, gid uint32) error {
	return f.setAttrs(ctx, "fchown", func(p AttrSetter) error { return p.Chown(ctx, uid, gid) }, func(h *sftp.File) error {
		return h.Chown(int(uid), int(gid))
	})
}

func (f *File) Chtimes(ctx context.Context, a Attr) error {
	f.c.changing(f.abs)
	return f.setAttrs(ctx, "futimens", func(p AttrSetter) error { return p.Chtimes(ctx, a) }, func(h *sftp.File) error {
		return fsetstatTimes(h, a.Atime, a.Mtime)
	})
}

// setAttrs sends a through the file's handle (fn), unless that handle was
// opened by path later than the file (byPath): an OpenLater file's, or
// one opened again after a lost connection, when the name may already
// have been a symlink to another file, which the open followed. While the
// path is still the one opened (nothing renamed or removed it through
// this mount), such a change goes by lsetstat@openssh.com instead, which
// never follows a symlink. For the same reason a change cut off by a lost
// connection is not sent again through a handle reopened by path: by
// lsetstat, or not at all (the error is returned). A handle change the
// server (or fsetstatTimes) cannot make goes by lsetstat too.
func (f *File) setAttrs(ctx context.Context, op string, byPath func(AttrSetter) error, fn func(h *sftp.File) error) error {
	f.mu.Lock()
	suspect := f.byPath || f.later
	f.mu.Unlock()
	if suspect {
		if err, sent := f.setByPath(ctx, op, byPath); sent {
			return err
		}
	}
	err := f.run(ctx, op, false, fn)
	if lostConnection(err) && f.c.cfg.Reconnect || errors.Is(err, sftp.ErrSSHFxOpUnsupported) {
		if perr, sent := f.setByPath(ctx, op, byPath); sent {
			return perr
		}
	}
	return err
}

// setByPath makes a change (set) by lsetstat@openssh.com at the path the
// file was opened at; sent is false when it cannot (renamed through this
// mount, or no extension), and the caller goes through the handle.
//
// lsetstat goes on the wire layer's channel, which the server serves
// apart from the handle's (sshd runs an sftp-server for each): in no
// order with the writes. A write WriteAtThen called sent (a new file's
// held times go right behind it, fs/held.go) may still be waiting there,
// and would move the mtime on after the times were set; so every write
// in flight is waited for first.
func (f *File) setByPath(ctx context.Context, op string, set func(AttrSetter) error) (err error, sent bool) {
	if f.c.nameCount(f.abs) != f.names {
		return nil, false
	}
	if err := f.writesReturned(ctx, op); err != nil {
		return err, true
	}
	err = set(pathAttrs{c: f.c, rel: f.rel, strict: true})
	return err, !errors.Is(err, errNoLsetstat)
}

// fsetstatTimes sets the times of h's file through its handle. pkg/sftp v1
// (through v1.13.10) has File.Chmod, Chown and Truncate, each an
// FSETSTAT, but no File.Chtimes: only Client.Chtimes, a SETSTAT by path.
// So the request is sent as its File.Chmod sends one, by its own
// unexported Client.fsetstat, with the File's client and handle read the
// way its methods read them (under its lock). sftpFileLayout checks, once,
// that the File still has those fields; should a new pkg/sftp change them,
// this answers ErrSSHFxOpUnsupported rather than guess, and the caller
// goes by path (setattr.go), and TestFsetstatTimesGoesThroughTheHandle
// fails.
func fsetstatTimes(h *sftp.File, atime, mtime time.Time) error {
	if !sftpFileLayout() {
		return sftp.ErrSSHFxOpUnsupported
	}
	v := reflect.ValueOf(h).Elem()
	mu := (*sync.RWMutex)(unsafe.Pointer(v.FieldByName("mu").UnsafeAddr()))
	mu.RLock()
	defer mu.RUnlock()
	handle := v.FieldByName("handle").String()
	if handle == "" {
		return os.ErrClosed
	}
	c := (*sftp.Client)(v.FieldByName("c").UnsafePointer())
	const attrACModTime = 0x8 // SSH_FILEXFER_ATTR_ACMODTIME
	return sftpFsetstat(c, handle, attrACModTime, &sftp.FileStat{Atime: uint32(atime.Unix()), Mtime: uint32(mtime.Unix())})
}

//go:linkname sftpFsetstat github.com/pkg/sftp.(*Client).fsetstat
func sftpFsetstat(c *sftp.Client, handle string, flags uint32, attrs interface{}) error

// sftpFileLayout reports whether sftp.File has the fields fsetstatTimes
// reads, with their types.
var sftpFileLayout = sync.OnceValue(func() bool {
	t := reflect.TypeFor[sftp.File]()
	c, okC := t.FieldByName("c")
	mu, okMu := t.FieldByName("mu")
	handle, okH := t.FieldByName("handle")
	return okC && c.Type == reflect.TypeFor[*sftp.Client]() &&
		okMu && mu.Type == reflect.TypeFor[sync.RWMutex]() &&
		okH && handle.Type.Kind() == reflect.String
})
