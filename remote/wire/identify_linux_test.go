package wire

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Identify: names OpenSSH's server linked are one Object, others are
// not; a file it may not open, a missing one, a symlinked directory on
// the way, and pkg/sftp's server (whose /proc/self is this test, full of
// other fds) leave nothing wrongly matched.
func TestIdentifyTellsWhichNamesAreOneFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("same"), 0644); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	write("c") // same bytes, size and mode: another file all the same
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0755)
	if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "sub", "a2")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("sub", filepath.Join(dir, "via"))
	write("locked")
	os.Chmod(filepath.Join(dir, "locked"), 0)
	paths := []string{"a", "b", "c", "sub/a2", "via/a2", "missing", "locked"}
	var want syscall.Stat_t
	if err := syscall.Stat(filepath.Join(dir, "a"), &want); err != nil {
		t.Fatal(err)
	}

	objs, err := NewIdentifier(openssh(t, dir)).Identify(ctx(t), paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 3, 4} { // a, b, sub/a2, via/a2
		if objs[i].Ino != want.Ino {
			t.Errorf("%s: %+v, want inode %d", paths[i], objs[i], want.Ino)
		}
	}
	if objs[0] != objs[1] || objs[0] != objs[3] {
		t.Errorf("a, b, sub/a2 differ: %+v", objs)
	}
	if !objs[2].Known() || objs[2] == objs[0] {
		t.Errorf("c: %+v, want known and not a's %+v", objs[2], objs[0])
	}
	if objs[5].Known() {
		t.Errorf("missing: %+v, want unknown", objs[5])
	}
	if os.Geteuid() != 0 && objs[6].Known() {
		t.Errorf("locked (mode 0): %+v, want unknown", objs[6])
	}

	// Again on the same Conn: the first batch's files were closed.
	conn := openssh(t, dir)
	id := NewIdentifier(conn)
	for round := 0; round < 3; round++ {
		objs, err := id.Identify(ctx(t), []string{"b", "c"})
		if err != nil || objs[0].Ino != want.Ino || !objs[1].Known() {
			t.Fatalf("round %d: %+v %v", round, objs, err)
		}
	}
	// A file the server holds open that the Identifier did not open (as
	// if the server had opened something of its own): the fds it
	// predicts are off by one. A file is then unknown, never wrong, and
	// the batch after is right again.
	if _, err := conn.Open(ctx(t), "c", OpenRead, Attrs{}); err != nil {
		t.Fatal(err)
	}
	objs, err = id.Identify(ctx(t), []string{"b", "sub/a2"})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if o.Known() && o.Ino != want.Ino {
			t.Errorf("after a prediction missed: %+v, a wrong inode", objs[i])
		}
	}
	if objs[1].Known() {
		t.Errorf("sub/a2 known (%+v) though its fd was one past the prediction: was the miss made?", objs[1])
	}
	objs, err = id.Identify(ctx(t), []string{"b", "sub/a2"})
	if err != nil || objs[0].Ino != want.Ino || objs[1].Ino != want.Ino {
		t.Errorf("the batch after the miss: %+v %v", objs, err)
	}

	objs, err = NewIdentifier(pkgsftp(t, dir)).Identify(ctx(t), paths)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		// pkg/sftp's fds are this process's: a path matches only if
		// the fd really holds that file, so a known one must be right.
		if o.Known() && i != 2 && i != 5 && i != 6 && o.Ino != want.Ino {
			t.Errorf("pkg/sftp %s: %+v, a wrong inode", paths[i], o)
		}
	}
}

// FuzzFdinfo: parseFdinfo takes any text; it answers only with both numbers.
func FuzzFdinfo(f *testing.F) {
	f.Add("pos:\t0\nflags:\t0100000\nmnt_id:\t24\nino:\t3\n")
	f.Add("mnt_id: 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := parseFdinfo(s)
		if ok && o.Ino == 0 {
			t.Fatalf("known with inode 0: %q", s)
		}
	})
}

// Only what the server has just said is a regular file is opened: a FIFO
// (whose open would block the server until a writer came), a device and
// a symlink are unknown, and the batch's regular file is still known.
// The FIFO's name is asked first, so an open of it would block the rest.
func TestIdentifyOpensNoFIFODeviceOrSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("plain", filepath.Join(dir, "link"))
	paths := []string{"fifo", "link", "plain"}
	if os.Geteuid() == 0 {
		if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, "null")
	}
	c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	objs, err := NewIdentifier(openssh(t, dir)).Identify(c, paths)
	if err != nil {
		t.Fatalf("Identify with a FIFO among the names: %v", err)
	}
	for i, p := range paths {
		if known := objs[i].Known(); known != (p == "plain") {
			t.Errorf("%s: %+v", p, objs[i])
		}
	}
}

// Two btrfs subvolumes share a mount and number their inodes alike; the
// filesystem id fstatvfs gives on the open file tells them apart. Here,
// two files on one filesystem share it, and it is the one statfs gives.
func TestIdentifyGivesTheFilesystemID(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0644); err != nil {
			t.Fatal(err)
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	objs, err := NewIdentifier(openssh(t, dir)).Identify(ctx(t), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if objs[0].FS != objs[1].FS || objs[0].Ino == objs[1].Ino || !objs[0].Known() {
		t.Fatalf("two files of one filesystem: %+v", objs)
	}
	want := uint64(uint32(st.Fsid.Val[0])) | uint64(uint32(st.Fsid.Val[1]))<<32
	if objs[0].FS != want {
		t.Errorf("filesystem id %#x, statfs says %#x", objs[0].FS, want)
	}
}
