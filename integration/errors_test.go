//go:build linux

package integration

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// forEachUser runs the test on a mount as root and as the unprivileged
// remote user, so that errors come from the server either way.
func forEachUser(t *testing.T, test func(t *testing.T, m *mounted)) {
	for _, u := range []string{"root", testUser} {
		t.Run(u, func(t *testing.T) { test(t, mountAs(t, u)) })
	}
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	var got syscall.Errno
	if !errors.As(err, &got) || got != want {
		t.Errorf("%s: got %v, want %v (%s)", what, err, want, want.Error())
	}
}

func TestLsOfAMissingNameSaysNoSuchFileOrDirectory(t *testing.T) {
	forEachUser(t, func(t *testing.T, m *mounted) {
		out, err := shErr(m.mnt, "ls missing")
		if err == nil || !strings.Contains(out, "No such file or directory") {
			t.Fatalf("ls missing: %v %q", err, out)
		}
		_, err = os.Stat(filepath.Join(m.mnt, "missing"))
		wantErrno(t, "stat missing", err, syscall.ENOENT)
		_, err = os.Open(filepath.Join(m.mnt, "nodir/file"))
		wantErrno(t, "open nodir/file", err, syscall.ENOENT)
	})
}

func TestRmdirOfANonEmptyDirectoryIsENOTEMPTYAndKeepsIt(t *testing.T) {
	forEachUser(t, func(t *testing.T, m *mounted) {
		sh(t, m.remote, "mkdir full && touch full/x")
		wantErrno(t, "rmdir full", syscall.Rmdir(filepath.Join(m.mnt, "full")), syscall.ENOTEMPTY)
		if _, err := os.Stat(filepath.Join(m.remote, "full/x")); err != nil {
			t.Fatalf("content lost: %v", err)
		}
		// Renaming a directory over a non-empty one fails the same way.
		os.Mkdir(filepath.Join(m.remote, "other"), 0755)
		wantErrno(t, "rename over non-empty dir", syscall.Rename(filepath.Join(m.mnt, "other"), filepath.Join(m.mnt, "full")), syscall.ENOTEMPTY)
	})
}

func TestCreatingAnExistingNameIsEEXIST(t *testing.T) {
	forEachUser(t, func(t *testing.T, m *mounted) {
		sh(t, m.remote, "mkdir d && touch f")
		wantErrno(t, "mkdir d", syscall.Mkdir(filepath.Join(m.mnt, "d"), 0755), syscall.EEXIST)
		_, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0644)
		wantErrno(t, "O_CREAT|O_EXCL on f", err, syscall.EEXIST)
		wantErrno(t, "symlink onto f", os.Symlink("x", filepath.Join(m.mnt, "f")), syscall.EEXIST)
		// Created on the server behind the mount's back, after the mount
		// listed the directory: the server's answer must still be EEXIST.
		os.ReadDir(m.mnt)
		sh(t, m.remote, "mkdir late")
		wantErrno(t, "mkdir late", syscall.Mkdir(filepath.Join(m.mnt, "late"), 0755), syscall.EEXIST)
	})
}

func TestAFileUsedAsADirectoryIsENOTDIR(t *testing.T) {
	forEachUser(t, func(t *testing.T, m *mounted) {
		sh(t, m.remote, "touch f && mkdir d")
		_, err := os.Stat(filepath.Join(m.mnt, "f/x"))
		wantErrno(t, "stat f/x", err, syscall.ENOTDIR)
		wantErrno(t, "mkdir f/x", syscall.Mkdir(filepath.Join(m.mnt, "f/x"), 0755), syscall.ENOTDIR)
		wantErrno(t, "rmdir f", syscall.Rmdir(filepath.Join(m.mnt, "f")), syscall.ENOTDIR)
		wantErrno(t, "rename dir over file", syscall.Rename(filepath.Join(m.mnt, "d"), filepath.Join(m.mnt, "f")), syscall.ENOTDIR)
	})
}

func TestWritingToADirectoryIsEISDIR(t *testing.T) {
	forEachUser(t, func(t *testing.T, m *mounted) {
		sh(t, m.remote, "mkdir d && touch f")
		_, err := os.OpenFile(filepath.Join(m.mnt, "d"), os.O_WRONLY, 0)
		wantErrno(t, "open d for writing", err, syscall.EISDIR)
		wantErrno(t, "unlink d", syscall.Unlink(filepath.Join(m.mnt, "d")), syscall.EISDIR)
		wantErrno(t, "rename file over dir", syscall.Rename(filepath.Join(m.mnt, "f"), filepath.Join(m.mnt, "d")), syscall.EISDIR)
	})
}

func TestWhatSFTPCannotExpressIsENOTSUPWithNothingChanged(t *testing.T) {
	forEachUser(t, func(t *testing.T, m *mounted) {
		sh(t, m.remote, "touch -d '2001-01-01 00:00:00 UTC' target && ln -s target link && chown -h --reference=. link")
		wantErrno(t, "setxattr", syscall.Setxattr(filepath.Join(m.mnt, "target"), "user.x", []byte("v"), 0), syscall.ENOTSUP)
		_, err := syscall.Getxattr(filepath.Join(m.mnt, "target"), "user.x", make([]byte, 64))
		wantErrno(t, "getxattr", err, syscall.ENOTSUP)
		wantErrno(t, "removexattr", syscall.Removexattr(filepath.Join(m.mnt, "target"), "user.x"), syscall.ENOTSUP)
		wantErrno(t, "mkfifo", syscall.Mkfifo(filepath.Join(m.mnt, "fifo"), 0644), syscall.ENOTSUP)
		if _, err := os.Lstat(filepath.Join(m.remote, "fifo")); !os.IsNotExist(err) {
			t.Errorf("fifo left on server: %v", err)
		}
		// touch -h: a link's own time is set with lsetstat@openssh.com
		// (SFTP v3's setstat would follow the link to its target).
		ts := []syscall.Timespec{{Sec: 5}, {Sec: 5}}
		if err := utimensNoFollow(filepath.Join(m.mnt, "link"), ts); err != nil {
			t.Errorf("utimensat(AT_SYMLINK_NOFOLLOW) on a link: %v", err)
		}
		if fi, _ := os.Lstat(filepath.Join(m.remote, "link")); fi.ModTime().Unix() != 5 {
			t.Errorf("the link's own mtime on the server is %v, want 5", fi.ModTime().Unix())
		}
		if fi, _ := os.Stat(filepath.Join(m.remote, "target")); fi.ModTime().Unix() != 978307200 {
			t.Errorf("target's mtime changed to %v", fi.ModTime())
		}
		// chmod of a link's own mode: Linux has none to set.
		if fi, err := os.Lstat(filepath.Join(m.mnt, "link")); err != nil || fi.ModTime().Unix() != 5 {
			t.Errorf("the link through the mount: %v %v, want mtime 5", fi, err)
		}
		// The mount keeps working, and the application never sees ENOSYS.
		wantErrno(t, "setxattr again", syscall.Setxattr(filepath.Join(m.mnt, "target"), "user.x", []byte("v"), 0), syscall.ENOTSUP)
		if _, err := os.Stat(filepath.Join(m.mnt, "target")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPermissionDeniedByTheServerIsEACCESOrEPERM(t *testing.T) {
	m := mountAs(t, testUser)
	// Files owned by root in a directory the unprivileged user can read.
	sh(t, m.remote, "echo secret > private && chmod 0600 private && echo open > public && chmod 0644 public && mkdir locked && chmod 0555 locked")
	_, err := os.ReadFile(filepath.Join(m.mnt, "private"))
	wantErrno(t, "read a 0600 root file", err, syscall.EACCES)
	_, err = os.OpenFile(filepath.Join(m.mnt, "public"), os.O_WRONLY, 0)
	wantErrno(t, "write a 0644 root file", err, syscall.EACCES)
	_, err = os.Create(filepath.Join(m.mnt, "locked/new"))
	wantErrno(t, "create in a 0555 directory", err, syscall.EACCES)
	wantErrno(t, "chmod a root file", os.Chmod(filepath.Join(m.mnt, "public"), 0777), syscall.EPERM)
	wantErrno(t, "chown to root", os.Chown(filepath.Join(m.mnt, "public"), 0, 0), syscall.EPERM)
	if fi, _ := os.Stat(filepath.Join(m.remote, "public")); fi.Mode().Perm() != 0644 {
		t.Errorf("mode changed on server: %v", fi.Mode())
	}
	// What the user owns, the user can change, as root would see it.
	sh(t, m.mnt, "echo mine > mine && chmod 0600 mine")
	fi, err := os.Stat(filepath.Join(m.remote, "mine"))
	if err != nil || fi.Mode().Perm() != 0600 || ownerName(t, fi) != testUser {
		t.Fatalf("own file on server: %v %v", fi, err)
	}
}

func ownerName(t *testing.T, fi os.FileInfo) string {
	t.Helper()
	u, err := user.LookupId(strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)))
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func utimensNoFollow(path string, ts []syscall.Timespec) error {
	uts := []unix.Timespec{unix.Timespec(ts[0]), unix.Timespec(ts[1])}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, uts, unix.AT_SYMLINK_NOFOLLOW)
}
