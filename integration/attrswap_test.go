//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The attack of issue 30, point 1: another server user who can write the
// directory renames a file the mount has open (or knows as a regular
// file) away and puts a symlink to a file of the mounting user in its
// place, between the program's write and its fchmod. SFTP's SETSTAT
// follows the symlink; the target must never change.

const (
	victimMtime = 1000000000 // 2001-09-09
	askedMtime  = 1300000000 // 2011-03-13
	askedUID    = 1234
	askedGID    = 5678
)

// victimFile makes a file of the mounting user (root) outside the served
// directory, mode 0600, with an old mtime: what the attacker wants changed.
func victimFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	writeFile(t, p, "secret\n", 0600)
	if err := os.Chtimes(p, time.Unix(victimMtime, 0), time.Unix(victimMtime, 0)); err != nil {
		t.Fatal(err)
	}
	return p
}

// swapForLink renames dir/name away, as another server user could, and
// puts a symlink to target in its place; it returns where the file went.
func swapForLink(t *testing.T, dir, name, target string) string {
	t.Helper()
	moved := filepath.Join(dir, name+".moved")
	if err := os.Rename(filepath.Join(dir, name), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return moved
}

// victimUntouched fails unless victim still has its mode, owner and mtime.
func victimUntouched(t *testing.T, victim string) {
	t.Helper()
	st := statT(t, victim)
	if st.Mode&07777 != 0600 || st.Uid != 0 || st.Gid != 0 || st.Mtim.Sec != victimMtime {
		t.Errorf("the symlink's target changed: mode %o, owner %d:%d, mtime %d; want 600, 0:0, %d", st.Mode&07777, st.Uid, st.Gid, st.Mtim.Sec, victimMtime)
	}
}

// gotChanges fails unless path (on the server) has what the program
// asked for; owner only when owner is set.
func gotChanges(t *testing.T, path string, mode uint32, owner bool) {
	t.Helper()
	st := statT(t, path)
	if st.Mode&07777 != mode || st.Mtim.Sec != askedMtime || owner && (st.Uid != askedUID || st.Gid != askedGID) {
		t.Errorf("the file the program opened has mode %o, owner %d:%d, mtime %d; want %o, %d:%d, %d", st.Mode&07777, st.Uid, st.Gid, st.Mtim.Sec, mode, askedUID, askedGID, askedMtime)
	}
}

// futimens sets f's times through its descriptor, as touch and tar do.
func futimens(f *os.File, atime, mtime int64) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime * 1e9), unix.NsecToTimespec(mtime * 1e9)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), ts, 0)
}

// fdChange is one attribute change through an open descriptor.
type fdChange func(f *os.File) error

var (
	fchmod666  fdChange = func(f *os.File) error { return unix.Fchmod(int(f.Fd()), 0666) }
	fchownAsk  fdChange = func(f *os.File) error { return unix.Fchown(int(f.Fd()), askedUID, askedGID) }
	futimesAsk fdChange = func(f *os.File) error { return futimens(f, askedMtime, askedMtime) }
)

// An fchmod, fchown and futimens after the name was swapped for a
// symlink change the file the program has open, never the link's target:
// an existing file opened O_RDWR, and new files in the orders cp -p
// (times, owner, mode) and tar -x (owner, mode, times) use, whose changes
// the mount holds until close.
func TestFchmodFchownFutimensChangeTheOpenFileNotASymlinkSwappedIn(t *testing.T) {
	m := mount(t)
	cpOrder := []fdChange{futimesAsk, fchownAsk, fchmod666}
	tarOrder := []fdChange{fchownAsk, fchmod666, futimesAsk}
	cases := []struct {
		name     string
		existing bool
		flags    int
		order    []fdChange
	}{
		{"existing O_RDWR", true, os.O_RDWR, cpOrder},
		// Opened without asking the server: no SFTP handle yet.
		{"existing O_RDONLY, opened lazily", true, os.O_RDONLY, cpOrder},
		{"new O_EXCL, cp -p order", false, os.O_WRONLY | os.O_CREATE | os.O_EXCL, cpOrder},
		{"new O_EXCL, tar -x order", false, os.O_WRONLY | os.O_CREATE | os.O_EXCL, tarOrder},
		{"new O_CREAT|O_TRUNC", false, os.O_RDWR | os.O_CREATE | os.O_TRUNC, tarOrder},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			victim := victimFile(t)
			name := "f" + strconv.Itoa(i)
			if c.existing {
				writeFile(t, filepath.Join(m.remote, name), "old\n", 0644)
				statInfo(t, filepath.Join(m.mnt, name)) // known: a read-only open need not ask the server
			}
			f, err := os.OpenFile(filepath.Join(m.mnt, name), c.flags, 0600)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if c.flags&(os.O_WRONLY|os.O_RDWR) != 0 {
				if _, err := f.Write([]byte("data\n")); err != nil {
					t.Fatal(err)
				}
				if err := f.Sync(); err != nil { // the file is on the server, under its name
					t.Fatal(err)
				}
			}
			moved := swapForLink(t, m.remote, name, victim)
			var errs []error
			for _, change := range c.order {
				if err := change(f); err != nil {
					errs = append(errs, err)
				}
			}
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
			victimUntouched(t, victim)
			if len(errs) == 0 {
				gotChanges(t, moved, 0666, true)
			} else {
				t.Logf("the changes failed: %v", errs) // allowed: the victim is what matters
			}
		})
	}
}

// A chmod, chown or utimes by path of a name the mount knows as a regular
// file goes by lsetstat@openssh.com: a symlink swapped in for it since is
// not followed on the server.
func TestChmodByPathOfAKnownFileDoesNotFollowASymlinkSwappedIn(t *testing.T) {
	m := mount(t)
	victim := victimFile(t)
	writeFile(t, filepath.Join(m.remote, "f"), "x\n", 0644)
	statInfo(t, filepath.Join(m.mnt, "f")) // known, and in the kernel's cache, as a regular file
	swapForLink(t, m.remote, "f", victim)
	p := filepath.Join(m.mnt, "f")
	errs := []error{
		os.Chmod(p, 0666),
		os.Chown(p, askedUID, askedGID),
		os.Chtimes(p, time.Unix(askedMtime, 0), time.Unix(askedMtime, 0)),
	}
	t.Logf("chmod, chown, utimes: %v", errs)
	victimUntouched(t, victim)
}

// With -o writeback, the upload sets the file's mode and times on its
// temporary name through the handle it wrote: a symlink swapped in for
// that name while the upload runs is not followed.
func TestWritebackUploadChangesItsTemporaryFileNotASymlinkSwappedIn(t *testing.T) {
	link := newSlowLink(t, 400) // time to swap between the upload's open and its chmod
	journal := filepath.Join(t.TempDir(), "journal")
	_, log, m := startWriteback(t, link, journal)
	victim := victimFile(t)
	swapped := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			names, _ := filepath.Glob(filepath.Join(m.remote, ".sftpmount-wb-*"))
			for _, n := range names {
				if fi, err := os.Lstat(n); err == nil && fi.Mode().IsRegular() {
					moved := n + ".moved"
					if os.Rename(n, moved) == nil && os.Symlink(victim, n) == nil {
						swapped <- moved
						return
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	f, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("data\n")); err != nil {
		t.Fatal(err)
	}
	for _, change := range []fdChange{fchmod666, futimesAsk} {
		if err := change(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, home(t), "sync", m.mnt)
	t.Logf("sftpmount sync exited %d: %s", r.code, r.stderr)
	var moved string
	select {
	case moved = <-swapped:
	case <-time.After(30 * time.Second):
		t.Fatalf("no temporary name to swap appeared on the server:\n%s", tail(log.String(), 20))
	}
	victimUntouched(t, victim)
	if r.code == 0 {
		gotChanges(t, moved, 0666, false)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(m.remote, "f"), &st); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG && st.Mode&07777 == 0666 {
		t.Log("the server's f is a regular file with the asked mode")
	}
}

// With -o writeback, the upload's temporary name is the same for every
// try, and shows in a listing once a try has left it. A symlink another
// server user plants there beforehand is removed, not followed: the
// upload makes its file exclusively, and the symlink's target keeps its
// bytes, mode and times.
func TestWritebackUploadDoesNotFollowASymlinkPlantedAtItsTemporaryName(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	_, log, m := startWriteback(t, nil, journal, "-o", "writeback_delay=3")
	victim := victimFile(t)
	writeFile(t, filepath.Join(m.mnt, "f"), "uploaded\n", 0644)
	metas, _ := filepath.Glob(filepath.Join(journal, "*.meta"))
	var planted string
	for _, meta := range metas {
		if fi, err := os.Stat(meta); err != nil || fi.Size() == 0 {
			continue // a pair made ahead, not an entry
		}
		id := strings.TrimSuffix(filepath.Base(meta), ".meta")
		planted = filepath.Join(m.remote, ".sftpmount-wb-"+id[max(0, len(id)-16):])
		if err := os.Symlink(victim, planted); err != nil {
			t.Fatal(err)
		}
	}
	if planted == "" {
		t.Fatalf("no record in the journal %s: %v", journal, metas)
	}
	if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Fatalf("sftpmount sync exited %d: %s\n%s", r.code, r.stderr, tail(log.String(), 20))
	}
	if got := readFile(t, victim); got != "secret\n" {
		t.Errorf("the planted symlink's target now holds %q", got)
	}
	victimUntouched(t, victim)
	if got := readFile(t, filepath.Join(m.remote, "f")); got != "uploaded\n" {
		t.Errorf("the server's f: %q", got)
	}
	if _, err := os.Lstat(planted); err == nil {
		t.Errorf("the planted name is still there")
	}
}
