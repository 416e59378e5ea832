package remote

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/pkg/sftp"
)

// A change cut off by a lost connection (after its request went out,
// before its answer came) may or may not have been done by the server.
// Sent again blindly, a mkdir that did happen would answer EEXIST and an
// unlink ENOENT; given up, it answers EIO for what may be done. So once
// the old session has settled (session.settle), a settleCheck asks the
// new one what the server's state says, and the change answers as it
// would have: done (nil), not done (again: it is sent again), or the
// answer the state gives (EEXIST for a name another client made), and
// ErrUnsettled only where the state cannot tell. docs/network.md
// lists the rules, one line per change.

// settleCheck looks at the server through s after a change was cut off:
// again asks for the change to be sent again; otherwise err is the
// change's answer (nil: it took effect).
type settleCheck func(ctx context.Context, s *session) (again bool, err error)

// lstatOn returns abs's attributes on s; found is false where no name is.
func lstatOn(s *session, abs string) (a Attr, found bool, err error) {
	fi, err := s.sftp.Lstat(abs)
	if notExist(err) {
		return Attr{}, false, nil
	}
	if err != nil {
		return Attr{}, false, err
	}
	return attrOf(fi), true, nil
}

func notExist(err error) bool {
	var st *sftp.StatusError
	return errors.Is(err, os.ErrNotExist) || errors.As(err, &st) && st.Code == StatusNoSuchFile
}

// madeBy checks a change that makes a name of type typ (mkdir): not
// there, it is made again; there with that type, it is done (got gives
// its attributes); anything else another client made, and the change
// answers EEXIST, as it would have, sent a moment later.
func (c *Client) madeBy(rel string, typ os.FileMode, got func(Attr)) settleCheck {
	return func(_ context.Context, s *session) (bool, error) {
		a, found, err := lstatOn(s, c.abs(rel))
		switch {
		case err != nil:
			return false, err
		case !found:
			return true, nil
		case a.Mode.Type() != typ:
			return false, fmt.Errorf("%w: another client made a %s there meanwhile", os.ErrExist, kindOf(a.Mode))
		}
		if got != nil {
			got(a)
		}
		return false, nil
	}
}

// symlinkMade checks a symlink: done where rel is a symlink to target.
func (c *Client) symlinkMade(target, rel string) settleCheck {
	return func(ctx context.Context, s *session) (bool, error) {
		again, err := c.madeBy(rel, os.ModeSymlink, nil)(ctx, s)
		if again || err != nil {
			return again, err
		}
		got, err := s.sftp.ReadLink(c.abs(rel))
		if err != nil {
			return false, err
		}
		if got != target {
			return false, fmt.Errorf("%w: another client made a symlink to %q there meanwhile", os.ErrExist, got)
		}
		return false, nil
	}
}

// linkMade checks a hard link: done where rel is what existing is (SFTP
// has no inode numbers: type, mode, size and mtime agree).
func (c *Client) linkMade(existing, rel string) settleCheck {
	return func(_ context.Context, s *session) (bool, error) {
		a, found, err := lstatOn(s, c.abs(rel))
		if err != nil || !found {
			return !found && err == nil, err
		}
		was, found, err := lstatOn(s, c.abs(existing))
		if err != nil {
			return false, err
		}
		if !found || !sameObject(a, was) {
			return false, fmt.Errorf("%w: the name is not a link to %s: another client made it meanwhile", os.ErrExist, c.abs(existing))
		}
		return false, nil
	}
}

// removed checks an unlink or rmdir: done where the name is gone; still
// there, it is sent again (and answers as the server says: ENOTEMPTY...).
func (c *Client) removed(rel string) settleCheck {
	return func(_ context.Context, s *session) (bool, error) {
		_, found, err := lstatOn(s, c.abs(rel))
		return found && err == nil, err
	}
}

// renamed checks a rename of from, whose attributes were was (nil: not
// known) before it was sent: from still there, it is sent again; from
// gone and to the object moved, it is done. From gone and to missing or
// another object: another client moved or removed one of them, and the
// server's state cannot tell whether this rename happened.
func (c *Client) renamed(from, to string, was *Attr) settleCheck {
	return func(_ context.Context, s *session) (bool, error) {
		src, found, err := lstatOn(s, c.abs(from))
		if err != nil {
			return false, err
		}
		if found && (was == nil || sameObject(src, *was)) {
			return true, nil
		}
		if found {
			return false, fmt.Errorf("%w: another object is at the source meanwhile", ErrUnsettled)
		}
		dst, found, err := lstatOn(s, c.abs(to))
		switch {
		case err != nil:
			return false, err
		case !found:
			return false, fmt.Errorf("%w: the source and the target are both gone", ErrUnsettled)
		case was != nil && !sameObject(dst, *was):
			return false, fmt.Errorf("%w: the source is gone and the target is not the object moved", ErrUnsettled)
		}
		return false, nil
	}
}

// createdHere checks an O_EXCL create: not there, it is sent again; a
// regular file, empty, with no more than the permission bits an open
// without attributes gives (0666: the mode asked for is set after the
// open), it is taken for the one this create made, and mine is true;
// anything else another client made, and the create answers EEXIST.
func (c *Client) createdHere(s *session, abs string) (mine bool, err error) {
	a, found, err := lstatOn(s, abs)
	switch {
	case err != nil || !found:
		return false, err
	case !a.Mode.IsRegular() || a.Size != 0 || a.Mode.Perm()&^0666 != 0:
		return false, fmt.Errorf("%w: another client made it meanwhile (a %s, %v, %d bytes)", os.ErrExist, kindOf(a.Mode), a.Mode.Perm(), a.Size)
	}
	return true, nil
}

// kindOf names the type of mode, for the -d log.
func kindOf(mode os.FileMode) string {
	switch {
	case mode.IsRegular():
		return "file"
	case mode.IsDir():
		return "directory"
	case mode&os.ModeSymlink != 0:
		return "symlink"
	}
	return "special file"
}

// sameObject reports whether a and b, SFTP attributes of two lookups, may
// be one object: type and mode agree and, but for a directory (whose
// size and mtime a rename into another directory may change), size and
// mtime.
func sameObject(a, b Attr) bool {
	if a.Mode != b.Mode {
		return false
	}
	return a.Mode.IsDir() || a.Size == b.Size && a.Mtime.Equal(b.Mtime)
}

// settledDebug writes to the -d log how a change cut off by a lost
// connection was settled; err is the answer the check gave.
func (c *Client) settledDebug(op, rel string, err error) {
	switch {
	case err == nil:
		c.cfg.debugf("%s %s cut off by a lost connection had taken effect: done", op, c.abs(rel))
	case lostConnection(err):
	case errors.Is(err, ErrUnsettled):
		c.cfg.debugf("%s %s cut off by a lost connection: cannot tell whether it took effect: %v", op, c.abs(rel), err)
	default:
		c.cfg.debugf("%s %s cut off by a lost connection: %v", op, c.abs(rel), err)
	}
}
