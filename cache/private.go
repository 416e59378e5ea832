package cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Directories and files this user alone may change: the write-back
// journal's (fs/writeback) and the control socket's (cmd/sftpmount).
// Another local user who could plant files in such a directory could
// make the mount upload them, or write through it outside the served
// directory; so a directory is checked with every component of its path,
// and a file is opened without following a symlink and must be a
// regular file of this user's with one name.

// NotPrivateError is the error of a directory another user could write
// into, or could change what its path leads to.
type NotPrivateError struct {
	Path string
	UID  uint32
	Mode os.FileMode
	Why  string
}

func (e *NotPrivateError) Error() string {
	return fmt.Sprintf("%s (owner uid %d, mode %v) %s", e.Path, e.UID, e.Mode, e.Why)
}

// OwnDir checks that dir is a directory of this user's that no one else
// may write into, itself and not a symlink: in /tmp another user could
// have made it first, and put files of theirs where ours are looked for.
func OwnDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st == nil || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return notPrivate(dir, fi, "is not a directory of this user's that only it may write")
	}
	return nil
}

func notPrivate(p string, fi os.FileInfo, why string) error {
	e := &NotPrivateError{Path: p, Mode: fi.Mode(), Why: why}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.UID = st.Uid
	}
	return e
}

// safeAbove checks a directory above those that are this user's alone:
// it belongs to this user or root, and no one else may write into it,
// unless it is sticky as /tmp is (there no one else may rename or
// remove what is ours).
func safeAbove(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st == nil || (st.Uid != 0 && int(st.Uid) != os.Geteuid()) ||
		(fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0) {
		return notPrivate(dir, fi, "lets another user replace what is below it")
	}
	return nil
}

// PrivateDir makes dir (with create; each missing component mode 0700)
// and checks the path to it: dir and every component below above must
// be this user's alone (OwnDir), above and every component over it
// safe (safeAbove). It gives dir with its symlinks resolved: what was
// checked. Without create, a missing dir is os.ErrNotExist.
func PrivateDir(dir, above string, create bool) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if above == "" {
		above = filepath.Dir(dir)
	}
	if create {
		// What exists is checked before anything is made in it.
		have := dir
		for {
			if _, err := os.Lstat(have); err == nil || !errors.Is(err, os.ErrNotExist) {
				break
			}
			have = filepath.Dir(have)
		}
		if have != dir {
			if _, err := checkPath(have, above); err != nil {
				return "", err
			}
		}
		if err := mkdirPrivate(dir); err != nil {
			return "", err
		}
	}
	return checkPath(dir, above)
}

// checkPath is PrivateDir's check of dir, which exists.
func checkPath(dir, above string) (string, error) {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	realAbove := filepath.Dir(resolved)
	a, _ := filepath.Abs(above)
	if ra, err := filepath.EvalSymlinks(above); err == nil {
		a = ra
	}
	switch {
	case resolved == a || strings.HasPrefix(a, resolved+"/"):
		realAbove = resolved
	case strings.HasPrefix(resolved, a+"/"):
		realAbove = a
	}
	for p := resolved; ; p = filepath.Dir(p) {
		check := safeAbove
		if len(p) > len(realAbove) {
			check = OwnDir
		}
		if err := check(p); err != nil {
			return "", err
		}
		if p == "/" {
			return resolved, nil
		}
	}
}

// mkdirPrivate makes dir and what is missing above it, each mode 0700
// whatever the umask.
func mkdirPrivate(dir string) error {
	if _, err := os.Lstat(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := mkdirPrivate(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// OpenOwn opens name, not following a symlink, and checks that it is a
// regular file of this user's with no other name (a hard link would let
// the journal write into, or read from, a file elsewhere). Its errors
// name no file: "is a symlink", "no such file or directory".
func OpenOwn(name string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|syscall.O_NOFOLLOW, perm)
	if err != nil {
		var pe *os.PathError
		switch {
		case errors.Is(err, syscall.ELOOP):
			err = errors.New("is a symlink")
		case errors.As(err, &pe):
			err = pe.Err
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		err = errors.New("is not a regular file")
	case st == nil || int(st.Uid) != os.Geteuid():
		err = errors.New("is not this user's")
	case st.Nlink > 1:
		err = errors.New("has another name (a hard link)")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadOwn reads the file name, as OpenOwn opens it.
func ReadOwn(name string) ([]byte, error) {
	f, err := OpenOwn(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
