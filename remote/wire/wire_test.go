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
	"testing"
	"time"

	"github.com/pkg/sftp"
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
