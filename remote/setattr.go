package remote

import (
	"context"
	"errors"
	"os"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote/wire"
)

// Where an attribute change goes, and why. SFTP v3's SETSTAT names a path
// and the server follows a final symlink: another server user who can
// write the directory can rename a file away and put a symlink to a file
// of ours in its place, and a chmod, chown or utimes meant for the first
// then lands on the second. So a change goes, best first:
//   - through the open file's handle (FSETSTAT), which names the file
//     this mount opened whatever its name names now (File);
//   - by path with lsetstat@openssh.com (OpenSSH 8.0), which never
//     follows a final symlink: at worst it changes a symlink put there,
//     never its target (Path);
//   - by SETSTAT, as a server without the extension leaves no other way.

// AttrSetter changes one file's mode, owner and times on the server: an
// open File through its handle, or a path (Client.Path).
type AttrSetter interface {
	Chmod(ctx context.Context, mode os.FileMode) error
	Chown(ctx context.Context, uid, gid uint32) error
	// Chtimes sets a.Atime and a.Mtime, in whole seconds (SFTP v3).
	Chtimes(ctx context.Context, a Attr) error
}

// Path returns the AttrSetter of rel by path. Without follow, a final
// symlink is not followed where the server offers lsetstat@openssh.com:
// for a name the mount knows is not a symlink. follow is for
// follow_symlinks, where a link is shown as what it points to.
func (c *Client) Path(rel string, follow bool) AttrSetter {
	return pathAttrs{c: c, rel: rel, follow: follow}
}

type pathAttrs struct {
	c      *Client
	rel    string
	follow bool // SETSTAT only
	strict bool // lsetstat only: errNoLsetstat where it cannot be sent
}

func (p pathAttrs) Chmod(ctx context.Context, mode os.FileMode) error {
	setstat := func(sc *sftp.Client, abs string) error { return sc.Chmod(abs, mode) }
	err := p.set(ctx, "chmod", wire.Attrs{HasPerm: true, Perm: toPerm(mode)}, setstat)
	var st *sftp.StatusError
	if p.follow || !errors.As(err, &st) || st.Code != StatusFailure {
		return err
	}
	if p.strict {
		return errNoLsetstat
	}
	// lsetstat's chmod is fchmodat(AT_SYMLINK_NOFOLLOW), which glibc
	// before 2.32 refuses for every file (ENOTSUP, sent as a plain
	// failure): a server on Debian 11 or RHEL 8. A name that is not a
	// symlink when asked is changed by SETSTAT; a symlink swapped in
	// between the two requests would still be followed there.
	if a, lerr := p.c.Lstat(ctx, p.rel); lerr != nil || a.Mode&os.ModeSymlink != 0 {
		return err
	}
	return p.c.call(ctx, "chmod", p.rel, func(sc *sftp.Client) error { return setstat(sc, p.c.abs(p.rel)) })
}

func (p pathAttrs) Chown(ctx context.Context, uid, gid uint32) error {
	return p.set(ctx, "chown", wire.Attrs{HasOwner: true, UID: uid, GID: gid}, func(sc *sftp.Client, abs string) error {
		return sc.Chown(abs, int(uid), int(gid))
	})
}

func (p pathAttrs) Chtimes(ctx context.Context, a Attr) error {
	p.c.changing(p.c.abs(p.rel))
	return p.set(ctx, "utimens", wire.Attrs{HasTimes: true, Atime: a.Atime, Mtime: a.Mtime}, func(sc *sftp.Client, abs string) error {
		return sc.Chtimes(abs, a.Atime, a.Mtime)
	})
}

// set sends a by lsetstat@openssh.com unless p follows links or the
// server lacks it, and by setstat (SETSTAT) then, unless p is strict.
func (p pathAttrs) set(ctx context.Context, op string, a wire.Attrs, setstat func(sc *sftp.Client, abs string) error) error {
	if !p.follow {
		err := p.c.lsetstat(ctx, op, p.rel, a)
		if p.strict || !errors.Is(err, errNoLsetstat) {
			return err
		}
	}
	return p.c.call(ctx, op, p.rel, func(sc *sftp.Client) error { return setstat(sc, p.c.abs(p.rel)) })
}

// errNoLsetstat is lsetstat's answer when it cannot be sent: the server
// does not offer lsetstat@openssh.com, or no channel for it can be had.
var errNoLsetstat = errors.New("lsetstat@openssh.com cannot be sent")

// lsetstat sets rel's own attributes (lsetstat@openssh.com), never
// following a final symlink, on the wire layer's channel: pkg/sftp v1
// has no way to send it.
func (c *Client) lsetstat(ctx context.Context, op, rel string, a wire.Attrs) error {
	const name = "lsetstat@openssh.com"
	return c.callSession(ctx, op, rel, func(ctx context.Context, s *session) error {
		if _, ok := s.sftp.HasExtension(name); !ok {
			return errNoLsetstat
		}
		w, err := s.wireConn(ctx, c.cfg.SFTPServer)
		if err != nil {
			if lostConnection(err) {
				return err
			}
			// No second channel (a server's MaxSessions, a forced
			// command): as a server without the extension.
			c.cfg.debugf("lsetstat %s: %v: by setstat, which follows a symlink", c.abs(rel), err)
			return errNoLsetstat
		}
		if !w.Has(name) {
			return errNoLsetstat
		}
		return fromWire(w.LSetStat(ctx, c.abs(rel), a))
	})
}

// LChown and LChtimes set a symlink's own owner and times: never by
// SETSTAT, which would change the link's target. A server without
// lsetstat@openssh.com gives ErrSSHFxOpUnsupported.
func (c *Client) LChown(ctx context.Context, rel string, uid, gid uint32) error {
	return onlyLsetstat(pathAttrs{c: c, rel: rel, strict: true}.Chown(ctx, uid, gid))
}

func (c *Client) LChtimes(ctx context.Context, rel string, a Attr) error {
	return onlyLsetstat(pathAttrs{c: c, rel: rel, strict: true}.Chtimes(ctx, a))
}

func onlyLsetstat(err error) error {
	if errors.Is(err, errNoLsetstat) {
		return sftp.ErrSSHFxOpUnsupported
	}
	return err
}

// toPerm is the SFTP permission word of mode, as pkg/sftp's Chmod sends
// it: the permission bits with setuid, setgid and sticky.
func toPerm(mode os.FileMode) uint32 {
	perm := uint32(mode.Perm())
	if mode&os.ModeSetuid != 0 {
		perm |= 04000
	}
	if mode&os.ModeSetgid != 0 {
		perm |= 02000
	}
	if mode&os.ModeSticky != 0 {
		perm |= 01000
	}
	return perm
}
