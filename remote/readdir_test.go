package remote

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote/wire"
)

const opensshServer = "/usr/lib/openssh/sftp-server"

// opensshPipes starts OpenSSH's sftp-server on pipes, serving dir.
func opensshPipes(t *testing.T, dir string) (io.Reader, io.WriteCloser) {
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
	t.Cleanup(func() { w.Close(); cmd.Wait() })
	return r, w
}

// A listing through the wire layer gives every entry the attributes
// pkg/sftp's listing gives it (type and special bits, owner, times), and
// the link count OpenSSH's long names carry, a directory's included.
func TestAListingThroughTheWireLayerIsPkgSftpsWithLinkCounts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("12345"), 0640)
	os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "f2"))
	os.Mkdir(filepath.Join(dir, "d"), 0755)
	os.Mkdir(filepath.Join(dir, "d", "sub"), 0755)
	os.Symlink("f", filepath.Join(dir, "l"))
	syscall.Mkfifo(filepath.Join(dir, "p"), 0600)
	os.WriteFile(filepath.Join(dir, "s"), nil, 0755)
	os.Chmod(filepath.Join(dir, "s"), 0755|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
	os.Chtimes(filepath.Join(dir, "s"), time.Unix(1000000000, 0), time.Unix(1100000000, 0))
	for i := 0; i < 250; i++ { // several READDIR batches (OpenSSH sends 100 names a reply)
		os.WriteFile(filepath.Join(dir, "n"+string(rune('a'+i%26))+time.Duration(i).String()), nil, 0644)
	}

	r, w := opensshPipes(t, dir)
	s := pipeSession(t, func(sr io.Reader, sw io.WriteCloser) {
		pr, pw := opensshPipes(t, dir)
		go io.Copy(sw, pr)
		io.Copy(pw, sr)
	})
	c := testClient(s, 10*time.Second, dir)
	old, err := c.ReadDir(context.Background(), ".") // no wire layer yet: pkg/sftp's
	if err != nil {
		t.Fatal(err)
	}
	wc, err := wire.Start(r, w)
	if err != nil {
		t.Fatal(err)
	}
	s.wire = wc
	got, err := c.ReadDir(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(old) || len(got) < 256 {
		t.Fatalf("%d names through the wire layer, %d through pkg/sftp", len(got), len(old))
	}
	byName := map[string]Attr{}
	for _, e := range old {
		byName[e.Name] = e.Attr
	}
	wantLinks := map[string]uint32{"f": 2, "f2": 2, "d": 3, "l": 1, "p": 1, "s": 1}
	for _, e := range got {
		want, ok := byName[e.Name]
		if !ok {
			t.Fatalf("%s listed only through the wire layer", e.Name)
		}
		if want.Nlink != 0 {
			t.Errorf("%s: pkg/sftp's listing gave a link count", e.Name)
		}
		if n, ok := wantLinks[e.Name]; ok && e.Attr.Nlink != n {
			t.Errorf("%s: link count %d, want %d", e.Name, e.Attr.Nlink, n)
		}
		want.Nlink = e.Attr.Nlink
		if !want.Atime.Equal(e.Attr.Atime) || !want.Mtime.Equal(e.Attr.Mtime) {
			t.Errorf("%s: times %v %v, pkg/sftp's %v %v", e.Name, e.Attr.Atime, e.Attr.Mtime, want.Atime, want.Mtime)
		}
		want.Atime, want.Mtime = e.Attr.Atime, e.Attr.Mtime
		if e.Attr != want {
			t.Errorf("%s: %+v through the wire layer, %+v through pkg/sftp", e.Name, e.Attr, want)
		}
	}
}

// A bulk session's request size is the largest OpenSSH's limits allow for
// both reads and writes (so no read comes back shorter than asked), and
// 32 KiB where the server tells none.
func TestTheRequestSizeComesFromTheServersLimits(t *testing.T) {
	r, w := opensshPipes(t, t.TempDir())
	wc, err := wire.Start(r, w)
	if err != nil {
		t.Fatal(err)
	}
	l, err := wc.Limits(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// OpenSSH 9.2: 256 KiB packets, 255 KiB reads and writes.
	if got := packetFor(l); got != int(l.MaxRead) || uint64(got)+1024 > l.MaxPacket {
		t.Errorf("request size %d for limits %+v", got, l)
	}
	for _, c := range []struct {
		l    wire.Limits
		want int
	}{
		{wire.Limits{}, 1 << 20},
		{wire.Limits{MaxRead: 64 << 10, MaxWrite: 128 << 10}, 64 << 10},
		{wire.Limits{MaxPacket: 34000, MaxRead: 1 << 20}, 34000 - 1024},
		{wire.Limits{MaxRead: 1000}, 1000},
	} {
		if got := packetFor(c.l); got != c.want {
			t.Errorf("limits %+v: %d, want %d", c.l, got, c.want)
		}
	}
}
