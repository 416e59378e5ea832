package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/sys/unix"
)

const opensshServer = "/usr/lib/openssh/sftp-server"

// openssh starts OpenSSH's sftp-server on pipes, serving dir (its cwd).
func openssh(t *testing.T, dir string) *Conn {
	t.Helper()
	if _, err := os.Stat(opensshServer); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("OpenSSH's sftp-server (install-deps.sh installs it): %v", err)
		}
		t.Skipf("no %s", opensshServer)
	}
	cmd := exec.Command(opensshServer, "-e", "-l", "ERROR")
	cmd.Dir = dir
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := Start(r, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); cmd.Wait() })
	return c
}

// pkgsftp starts pkg/sftp's own server in process, serving dir.
func pkgsftp(t *testing.T, dir string) *Conn {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{sr, sw}, sftp.WithServerWorkingDirectory(dir))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	c, err := Start(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// Against OpenSSH: the extensions pkg/sftp cannot send do what they say,
// checked on the files themselves.
func TestOpenSSHsExtensionsDoWhatTheySay(t *testing.T) {
	dir := t.TempDir()
	c := openssh(t, dir)
	for _, ext := range []string{"lsetstat@openssh.com", "limits@openssh.com", "copy-data"} {
		if !c.Has(ext) {
			t.Fatalf("OpenSSH 9.x offers %s; extensions: %v", ext, c.Extensions)
		}
	}
	l, err := c.Limits(ctx(t))
	if err != nil || l.MaxPacket < 32768 || l.MaxRead == 0 || l.MaxWrite == 0 {
		t.Fatalf("limits: %+v %v", l, err)
	}

	// lsetstat sets a symlink's own mtime, leaving its target's alone.
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("t"), 0644)
	os.Symlink("target", filepath.Join(dir, "link"))
	before, _ := os.Stat(target)
	when := time.Unix(1_000_000_000, 0)
	if err := c.LSetStat(ctx(t), filepath.Join(dir, "link"), Attrs{HasTimes: true, Atime: when, Mtime: when}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "link")); !fi.ModTime().Equal(when) {
		t.Errorf("the link's own mtime is %v, want %v", fi.ModTime(), when)
	}
	if fi, _ := os.Stat(target); !fi.ModTime().Equal(before.ModTime()) {
		t.Errorf("the target's mtime changed to %v", fi.ModTime())
	}
	a, err := c.Lstat(ctx(t), filepath.Join(dir, "link"))
	if err != nil || !a.HasTimes || !a.Mtime.Equal(when) || a.Perm&0o170000 != 0o120000 {
		t.Errorf("lstat of the link: %+v %v", a, err)
	}

	// copy-data copies on the server, between two handles of this Conn.
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	os.WriteFile(filepath.Join(dir, "src"), src, 0644)
	rh, err := c.Open(ctx(t), filepath.Join(dir, "src"), OpenRead, Attrs{})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := c.Open(ctx(t), filepath.Join(dir, "dst"), OpenWrite|OpenCreate|OpenTrunc, Attrs{HasPerm: true, Perm: 0600})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CopyData(ctx(t), rh, 100, 5000, wh, 10); err != nil {
		t.Fatal(err)
	}
	if err := c.CopyData(ctx(t), rh, 0, 0, wh, 1<<20); err != nil { // 0: to the end
		t.Fatal(err)
	}
	for _, h := range []string{rh, wh} {
		if err := c.CloseHandle(ctx(t), h); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "dst"))
	want := append(append(make([]byte, 10), src[100:5100]...), make([]byte, 1<<20-5010)...)
	want = append(want, src...)
	if !bytes.Equal(got, want) {
		t.Fatalf("dst has %d bytes, want %d (equal: %v)", len(got), len(want), bytes.Equal(got, want))
	}

	// A missing file is a status, not a broken connection.
	_, err = c.Lstat(ctx(t), filepath.Join(dir, "missing"))
	var st *StatusError
	if !errors.As(err, &st) || st.Code != StatusNoSuchFile || c.Err() != nil {
		t.Fatalf("lstat of a missing file: %v (conn: %v)", err, c.Err())
	}
}

// Against pkg/sftp's server, which offers none of them: each is refused
// as unsupported before anything is sent, and what both speak works.
func TestAServerWithoutTheExtensionsGetsUnsupported(t *testing.T) {
	dir := t.TempDir()
	c := pkgsftp(t, dir)
	var st *StatusError
	if err := c.LSetStat(ctx(t), dir, Attrs{}); !errors.As(err, &st) || st.Code != StatusOpUnsupported {
		t.Errorf("lsetstat: %v", err)
	}
	if _, err := c.Limits(ctx(t)); !errors.As(err, &st) || st.Code != StatusOpUnsupported {
		t.Errorf("limits: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "f"), []byte("12345"), 0640)
	a, err := c.Lstat(ctx(t), filepath.Join(dir, "f"))
	if err != nil || a.Size != 5 || a.Perm&0o777 != 0o640 {
		t.Fatalf("lstat: %+v %v", a, err)
	}
	if _, err := c.extended(ctx(t), "no-such@example.org", nil); !errors.As(err, &st) || st.Code != StatusOpUnsupported {
		t.Errorf("an unknown extension: %v", err)
	}
}

// A call whose ctx ends returns at once; the reply that comes later is
// dropped, and the Conn goes on.
func TestACallGivesUpAtItsDeadlineAndTheConnGoesOn(t *testing.T) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	go func() { // answer VERSION, then hold the first request, then answer both
		readPacket(sr, MaxPacket)
		sw.Write(packet(typeVersion, []byte{0, 0, 0, 3}))
		_, first, _ := readPacket(sr, MaxPacket)
		_, second, _ := readPacket(sr, MaxPacket)
		ok := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		sw.Write(packet(typeStatus, append(append([]byte{}, first[:4]...), ok[4:]...)))
		sw.Write(packet(typeStatus, append(append([]byte{}, second[:4]...), ok[4:]...)))
		io.Copy(io.Discard, sr)
	}()
	c, err := Start(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.CloseHandle(short, "h"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first call: %v, want its deadline", err)
	}
	if err := c.CloseHandle(ctx(t), "h"); err != nil || c.Err() != nil {
		t.Fatalf("second call: %v (conn: %v)", err, c.Err())
	}
}

func packet(typ byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(body)))
	return append(append(b, typ), body...)
}

// answering starts a Conn on a server that answers VERSION, reads one
// request, sends replies as they are, and closes.
func answering(replies []byte) (*Conn, error) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	go func() {
		readPacket(sr, MaxPacket)
		sw.Write(packet(typeVersion, []byte{0, 0, 0, 3}))
		readPacket(sr, MaxPacket)
		sw.Write(replies)
		sw.Close()
		io.Copy(io.Discard, sr)
	}()
	return Start(cr, cw)
}

// A hostile server's replies end the Conn with a ProtocolError: never a
// panic, never a reply taken for another request's.
func TestHostileRepliesEndTheConn(t *testing.T) {
	for name, bad := range map[string][]byte{
		"an id never sent":       packet(typeStatus, []byte{0, 0, 0, 99, 0, 0, 0, 0}),
		"no id":                  packet(typeStatus, []byte{0, 0}),
		"oversized":              binary.BigEndian.AppendUint32(nil, MaxPacket+1),
		"length zero":            {0, 0, 0, 0},
		"ends inside the header": {0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := answering(bad)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.CloseHandle(ctx(t), "h"); err == nil {
				t.Fatal("the call succeeded")
			}
			if c.Err() == nil {
				t.Fatal("the Conn goes on after a hostile reply")
			}
		})
	}
}

// A reply of a type its request cannot get, or a second reply to one
// request, ends the Conn with a ProtocolError, whether or not its caller
// still waits: readLoop checks every reply against answers.
func TestAReplyOfTheWrongTypeEndsTheConnWithAProtocolError(t *testing.T) {
	ok := []byte{0, 0, 0, 0, 0, 0, 0, 0}
	for name, bad := range map[string][]byte{
		"ATTRS to a CLOSE":   packet(typeAttrs, []byte{0, 0, 0, 0, 0, 0, 0, 0}),
		"HANDLE to a CLOSE":  packet(typeHandle, []byte{0, 0, 0, 0, 0, 0, 0, 1, 'h'}),
		"two replies to one": append(packet(typeStatus, ok), packet(typeStatus, ok)...),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := answering(bad)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.CloseHandle(ctx(t), "h")
			<-c.done
			var pe *ProtocolError
			if !errors.As(c.Err(), &pe) {
				t.Fatalf("the Conn ended with %v, want a ProtocolError", c.Err())
			}
		})
	}
}

// FuzzReplies feeds arbitrary bytes as a server's replies to a Lstat:
// the decoder must return a value or an error, never panic or hang.
func FuzzReplies(f *testing.F) {
	f.Add(packet(typeAttrs, []byte{0, 0, 0, 0, 0, 0, 0, 0xf, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0x81, 0xa4, 0, 0, 0, 1, 0, 0, 0, 2}))
	f.Add(packet(typeStatus, []byte{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 'n', 'o'}))
	f.Add(packet(typeAttrs, []byte{0, 0, 0, 0, 0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}))
	f.Fuzz(func(t *testing.T, replies []byte) {
		c, err := answering(replies)
		if err != nil {
			return
		}
		defer c.Close()
		c.Lstat(ctx(t), "x")
		c.Limits(ctx(t))
	})
}

// ReadDir with several READDIRs in flight gives every name once, with
// its attributes and the link count of OpenSSH's long name.
func TestReadDirGivesEveryNameOnceWithItsLinkCount(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 1000; i++ {
		os.WriteFile(filepath.Join(dir, "f"+strconvItoa(i)), []byte("x"), 0644)
	}
	os.Link(filepath.Join(dir, "f1"), filepath.Join(dir, "hard"))
	os.Mkdir(filepath.Join(dir, "sub"), 0755)
	os.Mkdir(filepath.Join(dir, "sub", "inner"), 0755)
	for name, c := range map[string]*Conn{"openssh": openssh(t, dir), "pkg/sftp": pkgsftp(t, dir)} {
		t.Run(name, func(t *testing.T) {
			seen := map[string]Entry{}
			batches := 0
			err := c.ReadDir(ctx(t), dir, 4, func(es []Entry) bool {
				batches++
				for _, e := range es {
					if _, dup := seen[e.Name]; dup {
						t.Errorf("%s listed twice", e.Name)
					}
					seen[e.Name] = e
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1002 {
				t.Fatalf("%d names in %d batches, want 1002", len(seen), batches)
			}
			if e := seen["hard"]; e.Nlink != 2 || !e.Attrs.HasSize || e.Attrs.Size != 1 {
				t.Errorf("hard: %+v, want nlink 2, size 1", e)
			}
			if e := seen["f2"]; e.Nlink != 1 {
				t.Errorf("f2: nlink %d, want 1", e.Nlink)
			}
			if e := seen["sub"]; e.Nlink != 3 || e.Attrs.Perm&0o170000 != 0o040000 {
				t.Errorf("sub: %+v, want a directory with nlink 3", e)
			}
			stopped := 0
			if err := c.ReadDir(ctx(t), dir, 4, func(es []Entry) bool { stopped++; return false }); err != nil || stopped != 1 {
				t.Errorf("a listing stopped after one batch: %d batches, %v", stopped, err)
			}
			if _, err := c.Lstat(ctx(t), dir); err != nil || c.Err() != nil {
				t.Errorf("the Conn after a stopped listing: %v %v", err, c.Err())
			}
		})
	}
}

func strconvItoa(i int) string { return strconv.Itoa(i) }

// FuzzNames feeds arbitrary bytes to the NAME reply decoder and the
// long-name parser: a value or an error, never a panic.
func FuzzNames(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		names(body)
		linkCount(string(body))
	})
}

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
