package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote/wire"
)

// Lstat returns the attributes of rel without following a final symlink.
func (c *Client) Lstat(ctx context.Context, rel string) (Attr, error) {
	var a Attr
	err := c.call(ctx, "lstat", rel, func(sc *sftp.Client) error {
		fi, err := sc.Lstat(c.abs(rel))
		if err == nil {
			a = attrOf(fi)
		}
		return err
	})
	return a, err
}

// Stat returns the attributes of what rel points to, following symlinks.
func (c *Client) Stat(ctx context.Context, rel string) (Attr, error) {
	var a Attr
	err := c.call(ctx, "stat", rel, func(sc *sftp.Client) error {
		fi, err := sc.Stat(c.abs(rel))
		if err == nil {
			a = attrOf(fi)
		}
		return err
	})
	return a, err
}

// ReadDir lists a directory with every entry's attributes and, from
// OpenSSH's long names, its link count. It goes through the wire layer
// with readDirInFlight READDIRs in flight and the close not waited for
// (opendir and one round trip for a small directory); where the wire
// layer's channel cannot be had, through pkg/sftp, which waits for each
// reply (and leaves Nlink 0).
func (c *Client) ReadDir(ctx context.Context, rel string) ([]DirEntry, error) {
	var out []DirEntry
	err := c.readDir(ctx, rel, func(batch []DirEntry) bool {
		out = append(out, batch...)
		return true
	}, func() bool { out = out[:0]; return true })
	return out, err
}

const readDirInFlight = 8

// ReadDirBatches is ReadDir handing each batch of names to fn as it
// arrives; fn returning false ends the listing. A listing cut off by a
// lost connection is started again only if fn has been given nothing.
// Its deadline is -o timeout without a batch, not for the whole listing,
// and fn's own time does not count.
func (c *Client) ReadDirBatches(ctx context.Context, rel string, fn func([]DirEntry) bool) error {
	return c.readDir(ctx, rel, fn, func() bool { return false })
}

// errCutOff is a listing's lost connection after some of its names were
// handed on: not tried again.
var errCutOff = errors.New("the connection was lost in the middle of the listing")

// readDir lists rel, calling again before trying once more a listing cut
// off after some names were handed to fn; again false gives up.
func (c *Client) readDir(ctx context.Context, rel string, fn func([]DirEntry) bool, again func() bool) error {
	given := false
	return c.callSession(withProgress(ctx), "readdir", rel, func(ctx context.Context, s *session) error {
		if given && !again() {
			return errCutOff
		}
		given = false
		w, err := s.wireConn(ctx, c.cfg.SFTPServer)
		if err != nil {
			// No second channel (a server's MaxSessions, a forced
			// command): pkg/sftp's session answers alone.
			fis, err := s.sftp.ReadDir(c.abs(rel))
			if err == nil && len(fis) > 0 {
				batch := make([]DirEntry, 0, len(fis))
				for _, fi := range fis {
					batch = append(batch, DirEntry{Name: fi.Name(), Attr: attrOf(fi)})
				}
				given = true
				fn(batch)
			}
			return err
		}
		return fromWire(w.ReadDir(ctx, c.abs(rel), readDirInFlight, func(entries []wire.Entry) bool {
			batch := make([]DirEntry, len(entries))
			for i, e := range entries {
				batch[i] = DirEntry{Name: e.Name, Attr: attrFromWire(e.Attrs, e.Nlink)}
			}
			given = true
			defer progressed(ctx)()
			return fn(batch)
		}))
	})
}

// Mkdir creates a directory and gives it mode. SFTP's mkdir carries
// attributes but pkg/sftp sends none, so the mode is a second request,
// which does not follow a symlink put in the directory's place meanwhile
// (Path).
func (c *Client) Mkdir(ctx context.Context, rel string, mode os.FileMode) error {
	c.sending(c.abs(rel))
	err := c.change(ctx, "mkdir", rel, func(_ context.Context, s *session) error {
		return s.sftp.Mkdir(c.abs(rel))
	}, c.madeBy(rel, os.ModeDir, nil))
	if err != nil {
		return err
	}
	return c.modeRefused(rel, c.Path(rel, false).Chmod(ctx, mode))
}

// modeRefused is nil for the error of a new directory's chmod that the
// server refuses (not supported, or not permitted: some servers never
// allow one), which leaves the directory as the server made it, as a
// umask would; any other error is returned.
func (c *Client) modeRefused(rel string, err error) error {
	// pkg/sftp gives the server's PERMISSION_DENIED as os.ErrPermission.
	if code, ok := StatusCode(err); ok && (code == StatusOpUnsupported || code == StatusPermissionDenied) || errors.Is(err, os.ErrPermission) {
		c.cfg.debugf("mkdir %s: its mode is the server's: %v", c.abs(rel), err)
		return nil
	}
	return err
}

// MkdirAttr is Mkdir answering with the new directory's attributes, in
// one round trip where the server runs a session's requests in order
// (wire.MkdirLstat), and a second only when its umask took bits of mode.
func (c *Client) MkdirAttr(ctx context.Context, rel string, mode os.FileMode) (Attr, error) {
	c.sending(c.abs(rel))
	var a Attr
	if mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) != 0 {
		// Bits a server's mkdir may drop: set by a chmod of their own.
		if err := c.Mkdir(ctx, rel, mode); err != nil {
			return a, err
		}
		return c.Lstat(ctx, rel)
	}
	err := c.change(ctx, "mkdir", rel, func(ctx context.Context, s *session) error {
		w, err := s.wireConn(ctx, c.cfg.SFTPServer)
		if err != nil {
			if s.ssh != nil || !errors.Is(err, errStreamUsed) {
				return err
			}
			// No second stream (-o passive): two round trips on
			// pkg/sftp's session. Over SSH a failed channel stays an
			// error, as it was.
			if err := s.sftp.Mkdir(c.abs(rel)); err != nil {
				return err
			}
			fi, err := s.sftp.Lstat(c.abs(rel))
			if err != nil {
				return err
			}
			a = attrOf(fi)
			a.Nlink = 2
			return nil
		}
		got, err := w.MkdirLstat(ctx, c.abs(rel), wire.Attrs{HasPerm: true, Perm: uint32(mode.Perm())})
		if err != nil {
			return fromWire(err)
		}
		a = attrFromWire(got, 2)
		return nil
	}, c.madeBy(rel, os.ModeDir, func(got Attr) { a = got; a.Nlink = 2 }))
	if err != nil {
		return a, err
	}
	if a.Mode.Perm() != mode.Perm() {
		err := c.Path(rel, false).Chmod(ctx, mode)
		if err != nil {
			return a, c.modeRefused(rel, err)
		}
		a.Mode = a.Mode&^os.ModePerm | mode.Perm()
	}
	return a, nil
}

// Rmdir removes an empty directory.
func (c *Client) Rmdir(ctx context.Context, rel string) error {
	c.sending(c.abs(rel))
	return c.change(ctx, "rmdir", rel, func(_ context.Context, s *session) error {
		return s.sftp.RemoveDirectory(c.abs(rel))
	}, c.removed(rel))
}

// Remove unlinks a file or symlink.
func (c *Client) Remove(ctx context.Context, rel string) error {
	c.moving(c.abs(rel))
	return c.change(ctx, "remove", rel, func(_ context.Context, s *session) error {
		return s.sftp.Remove(c.abs(rel))
	}, c.removed(rel))
}

// Rename moves from to to, replacing to atomically when the server has
// posix-rename@openssh.com. Plain SFTP rename refuses to replace an
// existing name (the v3 draft says so; OpenSSH's sftp-server links, and
// a link fails over an existing name); without the extension the name in
// the way is moved aside first (renameOver). With reconnecting
// on, from is looked up first, so that a rename cut off by a lost
// connection can be told done (to is that object) or not (see renamed).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	var was *Attr
	if c.cfg.Reconnect {
		if a, err := c.Lstat(ctx, from); err == nil {
			was = &a
		}
	}
	return c.rename(ctx, from, to, was)
}

// RenameKnown is Rename of a source whose attributes the caller knows
// (was): it costs no lstat first. Should was be stale, a rename cut off by
// a lost connection is unsettled (ErrUnsettled), never wrongly done.
func (c *Client) RenameKnown(ctx context.Context, from, to string, was Attr) error {
	return c.rename(ctx, from, to, &was)
}

func (c *Client) rename(ctx context.Context, from, to string, was *Attr) error {
	c.moving(c.abs(from), c.abs(to))
	return c.change(ctx, "rename", from, func(ctx context.Context, s *session) error {
		sc := s.sftp
		if c.has(sc, extPosixRename) {
			err := sc.PosixRename(c.abs(from), c.abs(to))
			if code, _ := StatusCode(err); code == StatusFailure && c.dirOverEmptyDir(sc, from, to) {
				// pkg/sftp's server renames with Go's os.Rename, which
				// will not replace a directory (EEXIST, sent as a
				// failure): as a server without the extension.
				c.lack("rename over a directory", "posix-rename@openssh.com will not replace a directory: a directory renamed over an empty one moves it aside first, as without the extension")
				return c.renameOver(ctx, sc, from, to, err)
			}
			if !c.refused(err, extPosixRename) {
				return err
			}
		}
		err := sc.Rename(c.abs(from), c.abs(to))
		if err == nil {
			return nil
		}
		return c.renameOver(ctx, sc, from, to, err)
	}, c.renamed(from, to, was))
}

// Symlink creates rel pointing at target, kept exactly as written.
func (c *Client) Symlink(ctx context.Context, target, rel string) error {
	c.sending(c.abs(rel))
	return c.change(ctx, "symlink", rel, func(_ context.Context, s *session) error {
		return s.sftp.Symlink(target, c.abs(rel))
	}, c.symlinkMade(target, rel))
}

// ReadLink returns a symlink's target as stored on the server.
func (c *Client) ReadLink(ctx context.Context, rel string) (string, error) {
	var target string
	err := c.call(ctx, "readlink", rel, func(sc *sftp.Client) error {
		var err error
		target, err = sc.ReadLink(c.abs(rel))
		return err
	})
	return target, err
}

// Link makes a hard link (hardlink@openssh.com). A server without it (or
// that refuses it) gives ErrSSHFxOpUnsupported: fs answers EPERM.
func (c *Client) Link(ctx context.Context, existing, rel string) error {
	c.sending(c.abs(rel))
	return c.change(ctx, "link", rel, func(_ context.Context, s *session) error {
		if !c.has(s.sftp, extHardlink) {
			return sftp.ErrSSHFxOpUnsupported
		}
		err := s.sftp.Link(c.abs(existing), c.abs(rel))
		c.refused(err, extHardlink)
		return err
	}, c.linkMade(existing, rel))
}

// Object is a file's identity on the server, where it can tell (see
// wire.Identifier): names with the same known Object are one file.
type Object = wire.Object

// IdentifyBatch is the most files one Identify asks about at once, and
// IdentifyParallel how many Identify calls run at once (each on an SFTP
// channel of its own; sshd's MaxSessions is 10 by default).
const (
	IdentifyBatch    = wire.MaxBatch
	IdentifyParallel = 4
)

// Identify returns the Object of each of rels, regular files only (a
// FIFO's open would block the server), unknown where the server cannot
// tell. A server that cannot (no /proc, not Linux) is not asked again.
func (c *Client) Identify(ctx context.Context, rels []string) ([]Object, error) {
	out := make([]Object, len(rels))
	if c.noIdentity.Load() {
		return out, nil
	}
	for from := 0; from < len(rels); from += wire.MaxBatch {
		batch := rels[from:min(from+wire.MaxBatch, len(rels))]
		abs := make([]string, len(batch))
		for i, rel := range batch {
			abs[i] = c.abs(rel)
		}
		err := c.callSession(ctx, "identify", batch[0], func(ctx context.Context, s *session) error {
			id, err := s.identifier(ctx, c.cfg.SFTPServer, int(c.identNext.Add(1)%IdentifyParallel))
			if err != nil {
				if errors.Is(err, ErrTimeout) || lostConnection(err) {
					return err
				}
				// No channel to be had (a server's MaxSessions, a
				// forced command): it will not come later either.
				return fmt.Errorf("%w: %v", wire.ErrNoProc, err)
			}
			// Half the call's time at most: a server that does not
			// answer this channel (a name swapped for a FIFO between
			// the Identifier's LSTAT and OPEN blocks it in open) costs
			// that channel and an unknown batch, never the connection,
			// which the call's own deadline would close.
			ictx, cancel := context.WithTimeout(ctx, identifyWithin(ctx))
			defer cancel()
			objs, err := id.Identify(ictx, abs)
			if err != nil && ictx.Err() != nil && ctx.Err() == nil {
				id.Conn().Close()
				c.cfg.debugf("identify: no answer in %v on its channel, given up: %d files unknown", identifyWithin(ctx).Round(time.Millisecond), len(abs))
				return nil
			}
			if err != nil {
				return fromWire(err)
			}
			copy(out[from:], objs)
			return nil
		})
		if errors.Is(err, wire.ErrNoProc) {
			c.cfg.debugf("identify: %v: names the server linked show as separate files", err)
			c.noIdentity.Store(true)
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// identifyWithin is how long one Identify batch may take of ctx's time.
func identifyWithin(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d) / 2
	}
	return 10 * time.Second
}

// fromWire gives a wire status the type the rest of remote (and fs's
// errno mapping) knows: pkg/sftp's.
func fromWire(err error) error {
	var st *wire.StatusError
	if errors.As(err, &st) {
		return &sftp.StatusError{Code: st.Code}
	}
	if errors.Is(err, wire.ErrClosed) {
		return fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	return err
}

// Truncate sets the size of a file by path.
func (c *Client) Truncate(ctx context.Context, rel string, size uint64) error {
	c.changing(c.abs(rel))
	return c.call(ctx, "truncate", rel, func(sc *sftp.Client) error {
		return sc.Truncate(c.abs(rel), int64(size))
	})
}

// StatFS asks statvfs@openssh.com about the filesystem holding rel. A
// server without it (or that refuses it) gets StandInStatFS, as sshfs
// gives, and no request.
func (c *Client) StatFS(ctx context.Context, rel string) (StatFS, error) {
	var out StatFS
	err := c.call(ctx, "statfs", rel, func(sc *sftp.Client) error {
		if !c.has(sc, extStatVFS) {
			out = StandInStatFS
			return nil
		}
		st, err := sc.StatVFS(c.abs(rel))
		if c.refused(err, extStatVFS) {
			out = StandInStatFS
			return nil
		}
		if err != nil {
			return err
		}
		out = StatFS{
			BlockSize: st.Bsize, FragmentSize: st.Frsize,
			Blocks: st.Blocks, BlocksFree: st.Bfree, BlocksAvail: st.Bavail,
			Files: st.Files, FilesFree: st.Ffree, NameMax: st.Namemax, FSID: st.Fsid,
			ReadOnly: st.Flag&sshFXEStatVFSRDOnly != 0,
		}
		return nil
	})
	return out, err
}

// sshFXEStatVFSRDOnly is statvfs@openssh.com's ST_RDONLY flag.
const sshFXEStatVFSRDOnly = 0x1

// CopyData copies n bytes of src from srcOff to dst at dstOff on the
// server, without the bytes crossing the link (copy-data, OpenSSH 9.0):
// both are opened on the wire layer's channel, as the extension needs
// handles of one session. dst must exist. A server without it gives
// ErrSSHFxOpUnsupported. Not repeated after a lost connection: the caller
// learns what landed from the file.
func (c *Client) CopyData(ctx context.Context, src string, srcOff, n uint64, dst string, dstOff uint64) error {
	c.changing(c.abs(dst))
	return c.callSession(ctx, "copy-data", dst, func(ctx context.Context, s *session) error {
		w, err := s.wireConn(ctx, c.cfg.SFTPServer)
		if s.ssh == nil && errors.Is(err, errStreamUsed) {
			return sftp.ErrSSHFxOpUnsupported // -o passive: copied by the kernel
		}
		if err != nil {
			return err
		}
		if !w.Has("copy-data") {
			return sftp.ErrSSHFxOpUnsupported
		}
		rh, err := w.Open(ctx, c.abs(src), wire.OpenRead, wire.Attrs{})
		if err != nil {
			return fromWire(err)
		}
		defer w.CloseHandle(ctx, rh)
		wh, err := w.Open(ctx, c.abs(dst), wire.OpenWrite, wire.Attrs{})
		if err != nil {
			return fromWire(err)
		}
		err = fromWire(w.CopyData(ctx, rh, srcOff, n, wh, dstOff))
		// The copy is only done once the handle is closed (a server may
		// report a write error at close).
		return errors.Join(err, fromWire(w.CloseHandle(ctx, wh)))
	})
}
