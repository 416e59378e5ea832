package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path"

	"github.com/pkg/sftp"
)

// renameOver replaces to with from on a server without
// posix-rename@openssh.com, whose plain rename refused (refusal): SFTP
// v3's rename will not replace an existing name. The name in the way is
// renamed aside to a unique name beside it, from takes its place, and
// the name aside is removed. Nothing is lost on a failure: should from
// not take to's place, the name aside is put back. It is not atomic (for
// a moment to does not exist) and the steps are not repeated after a
// lost connection: one cut off between them leaves to's old file at the
// name aside (.sftpmount-aside-*), never removed.
//
// As POSIX's rename(2): a directory over anything but a directory is
// ENOTDIR, anything else over a directory EISDIR, a directory over one
// that is not empty ENOTEMPTY; two names of one file (hard links, where
// the server can tell: Identify) are left as they are. Where the server
// cannot tell, from's name goes and the file stays at to.
func (c *Client) renameOver(ctx context.Context, sc *sftp.Client, from, to string, refusal error) error {
	src, serr := sc.Lstat(c.abs(from))
	dst, derr := sc.Lstat(c.abs(to))
	if serr != nil || derr != nil {
		// from gone (the refusal says so), or nothing in the way: the
		// refusal was for another reason.
		return refusal
	}
	switch {
	case src.IsDir() && !dst.IsDir():
		return &sftp.StatusError{Code: StatusNotADirectory}
	case !src.IsDir() && dst.IsDir():
		return &sftp.StatusError{Code: StatusFileIsADirectory}
	case dst.IsDir():
		if names, err := sc.ReadDir(c.abs(to)); err == nil && len(names) > 0 {
			return &sftp.StatusError{Code: StatusDirNotEmpty}
		}
	case src.Mode().IsRegular() && src.Mode() == dst.Mode() && src.Size() == dst.Size() && src.ModTime().Equal(dst.ModTime()):
		// Perhaps two names of one file: POSIX leaves both.
		if objs, err := c.Identify(ctx, []string{from, to}); err == nil && objs[0].Known() && objs[0] == objs[1] {
			return nil
		}
	}
	var tag [6]byte
	rand.Read(tag[:])
	aside := path.Join(path.Dir(c.abs(to)), ".sftpmount-aside-"+hex.EncodeToString(tag[:]))
	if err := sc.Rename(c.abs(to), aside); err != nil {
		return refusal
	}
	if err := sc.Rename(c.abs(from), c.abs(to)); err != nil {
		if perr := sc.Rename(aside, c.abs(to)); perr != nil {
			c.cfg.debugf("rename %s over %s: %v; putting %s back failed (%v): it is kept at %s", c.abs(from), c.abs(to), err, c.abs(to), perr, aside)
		}
		return err
	}
	remove := sc.Remove
	if dst.IsDir() {
		remove = sc.RemoveDirectory
	}
	if err := remove(aside); err != nil {
		if dst.IsDir() {
			// Filled meanwhile (or not ours to remove): undone,
			// as rename(2) refuses it.
			if uerr := sc.Rename(c.abs(to), c.abs(from)); uerr == nil {
				if uerr := sc.Rename(aside, c.abs(to)); uerr == nil {
					return &sftp.StatusError{Code: StatusDirNotEmpty}
				}
			}
		}
		c.cfg.debugf("rename %s over %s: the old %s, renamed aside to %s, could not be removed: %v", c.abs(from), c.abs(to), c.abs(to), aside, err)
		if dst.IsDir() {
			return err
		}
	}
	return nil
}

// dirOverEmptyDir reports whether from and to are both directories and
// to is empty: a rename rename(2) makes.
func (c *Client) dirOverEmptyDir(sc *sftp.Client, from, to string) bool {
	src, serr := sc.Lstat(c.abs(from))
	dst, derr := sc.Lstat(c.abs(to))
	if serr != nil || derr != nil || !src.IsDir() || !dst.IsDir() {
		return false
	}
	names, err := sc.ReadDir(c.abs(to))
	return err == nil && len(names) == 0
}
