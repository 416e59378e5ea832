//go:build linux

package remote_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/remotetest"
)

// localExec runs commands with the local sh, as a server would; read
// counts the bytes the client has read of the answers.
type localExec struct{ read, starts atomic.Int64 }

type localCmd struct {
	cmd  *exec.Cmd
	out  io.ReadCloser
	in   io.WriteCloser
	read *atomic.Int64
}

func (l *localCmd) Read(b []byte) (int, error) {
	n, err := l.out.Read(b)
	l.read.Add(int64(n))
	return n, err
}
func (l *localCmd) Write(b []byte) (int, error) { return l.in.Write(b) }
func (l *localCmd) Close() error {
	l.in.Close()
	l.cmd.Process.Kill()
	l.cmd.Wait()
	return nil
}

func (x *localExec) run(_ context.Context, command string) (io.ReadWriteCloser, error) {
	cmd := exec.Command("sh", "-c", command)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	x.starts.Add(1)
	return &localCmd{cmd: cmd, out: out, in: in, read: &x.read}, nil
}

func treeClient(t *testing.T, dir string, run remote.Exec, commands bool) *remote.Client {
	t.Helper()
	if _, err := exec.LookPath("find"); err != nil {
		t.Skip("no find")
	}
	srv := remotetest.Serve(dir)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := remote.ConnectStream(ctx, remote.Config{Dir: dir, Timeout: 10 * time.Second, RemoteCommands: commands, Exec: run}, srv.Open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func collect(t *testing.T, c *remote.Client, rel string, depth int) map[string]remote.TreeEntry {
	t.Helper()
	got := map[string]remote.TreeEntry{}
	err := c.Tree(context.Background(), rel, depth, func(e remote.TreeEntry) error {
		if _, dup := got[e.Path]; dup {
			t.Errorf("%q given twice", e.Path)
		}
		got[e.Path] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Every field of a Tree entry is what stat(2) says on the server, to the
// nanosecond, for names no line-based parser would survive.
func TestTreeGivesWhatStatSays(t *testing.T) {
	dir := t.TempDir()
	odd := "new\nline 'quoted' \\ back"
	for _, d := range []string{"a", "a/deep", "a/deep/deeper", "b", odd} {
		os.Mkdir(filepath.Join(dir, d), 0o750)
	}
	os.WriteFile(filepath.Join(dir, "a/x"), []byte("12345"), 0o640)
	os.Link(filepath.Join(dir, "a/x"), filepath.Join(dir, "b/y"))
	os.Symlink("../a/x", filepath.Join(dir, "b/link"))
	os.WriteFile(filepath.Join(dir, odd, "f"), nil, 0o755)
	os.Chmod(filepath.Join(dir, odd, "f"), os.ModeSetuid|os.ModeSticky|0o755)
	os.WriteFile(filepath.Join(dir, "a/deep/deeper/far"), nil, 0o644)
	when := time.Unix(1700000000, 123456789)
	os.Chtimes(filepath.Join(dir, "a/x"), when, when)

	x := &localExec{}
	c := treeClient(t, dir, x.run, true)
	got := collect(t, c, "", 2)
	want := []string{"", "a", "a/x", "a/deep", "b", "b/y", "b/link", odd, odd + "/f"}
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(got), len(want), got)
	}
	for _, rel := range want {
		e, ok := got[rel]
		if !ok {
			t.Errorf("%q missing", rel)
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, rel), &st); err != nil {
			t.Fatal(err)
		}
		a := e.Attr
		if a.Ino != st.Ino || a.Dev != uint64(st.Dev) || a.Nlink != uint32(st.Nlink) || a.Size != uint64(st.Size) || a.UID != st.Uid || a.GID != st.Gid {
			t.Errorf("%q: %+v, stat says ino %d dev %d nlink %d size %d", rel, a, st.Ino, st.Dev, st.Nlink, st.Size)
		}
		if !a.Mtime.Equal(time.Unix(st.Mtim.Unix())) || !a.Ctime.Equal(time.Unix(st.Ctim.Unix())) {
			t.Errorf("%q: mtime %v ctime %v, stat says %v %v", rel, a.Mtime, a.Ctime, time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix()))
		}
		fi, _ := os.Lstat(filepath.Join(dir, rel))
		if a.Mode != fi.Mode() {
			t.Errorf("%q: mode %v, want %v", rel, a.Mode, fi.Mode())
		}
	}
	if got["b/link"].Target != "../a/x" {
		t.Errorf("target %q", got["b/link"].Target)
	}
	if !got["a/x"].Attr.Mtime.Equal(when) {
		t.Errorf("mtime %v, want %v", got["a/x"].Attr.Mtime, when)
	}
	if got["a/deep"].Depth != 2 || got[""].Depth != 0 || got["a"].Depth != 1 {
		t.Errorf("depths: %d %d %d", got[""].Depth, got["a"].Depth, got["a/deep"].Depth)
	}
	// Asked about a subdirectory, paths are still relative to the root.
	sub := collect(t, c, "a", 5)
	if _, ok := sub["a/deep/deeper/far"]; !ok || len(sub) != 5 {
		t.Errorf("subtree: %v", sub)
	}
	// A directory of any name can be asked about; one shell on the
	// server answers every request.
	if got := collect(t, c, odd, 1); len(got) != 2 || got[odd+"/f"].Attr.Mode != os.ModeSetuid|os.ModeSticky|0o755 {
		t.Errorf("a directory named %q: %v", odd, got)
	}
	if n := x.starts.Load(); n != 1 {
		t.Errorf("%d shells started for three requests", n)
	}
}

// A server without commands, or without GNU find, says so; the caller
// falls back to SFTP listings.
func TestTreeRefusedOrWithoutFind(t *testing.T) {
	dir := t.TempDir()
	x := &localExec{}
	c := treeClient(t, dir, x.run, false)
	if err := c.Tree(context.Background(), "", 2, func(remote.TreeEntry) error { return nil }); !errors.Is(err, remote.ErrNoCommands) {
		t.Errorf("remote_commands=no: %v", err)
	}
	noFind := func(ctx context.Context, command string) (io.ReadWriteCloser, error) {
		return x.run(ctx, "PATH=/nonexistent; "+command)
	}
	c = treeClient(t, dir, noFind, true)
	if err := c.Tree(context.Background(), "", 2, func(remote.TreeEntry) error { return nil }); !errors.Is(err, remote.ErrNoTree) {
		t.Errorf("no find: %v", err)
	}
}

// A tree of 100 000 names streams: when an entry is handed over, the
// client has read at most one buffer (64 KiB) beyond its end; the answer
// is never held whole. The server here is a generator of find's answer
// that records where each entry ends.
func TestTreeOfAHundredThousandNamesStreams(t *testing.T) {
	const n = 100000
	gen := &treeGen{n: n}
	run := func(context.Context, string) (io.ReadWriteCloser, error) { return gen, nil }
	c := treeClient(t, t.TempDir(), run, true)
	seen, worst := 0, 0
	err := c.Tree(context.Background(), "", 3, func(e remote.TreeEntry) error {
		if e.Path != gen.name(seen) {
			t.Fatalf("entry %d is %q", seen, e.Path)
		}
		worst = max(worst, gen.off-gen.ends[seen])
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Errorf("%d entries of %d", seen, n)
	}
	if worst > 64<<10 {
		t.Errorf("read %d bytes ahead of an entry handed over; the cap is 64 KiB", worst)
	}
	t.Logf("%d entries, %d bytes, at most %d read ahead", seen, gen.off, worst)
}

// treeGen answers as find would for n names, made as they are read.
type treeGen struct {
	n, next int
	off     int   // bytes read so far
	ends    []int // where each record ends
	pending []byte
}

func (g *treeGen) name(i int) string {
	if i == 0 {
		return ""
	}
	return fmt.Sprintf("d%03d/file-with-a-longish-name-%06d", i/1000, i)
}

func (g *treeGen) Read(b []byte) (int, error) {
	for len(g.pending) < len(b) && g.next <= g.n {
		if g.next == g.n {
			g.pending = append(g.pending, "e\x000\x00"...)
		} else {
			kind := "f"
			if g.next == 0 {
				kind = "d"
			}
			g.pending = fmt.Appendf(g.pending, "f\x00%s\x00%s\x00%d\x00644\x000\x000\x001700000000.1234567890\x001700000000.1234567890\x0064768\x00%d\x001\x00\x00",
				g.name(g.next), kind, g.next, 1000+g.next)
			g.ends = append(g.ends, g.off+len(g.pending))
		}
		g.next++
	}
	if len(g.pending) == 0 {
		return 0, io.EOF
	}
	k := copy(b, g.pending)
	g.pending = g.pending[k:]
	g.off += k
	return k, nil
}
func (g *treeGen) Write(b []byte) (int, error) { return len(b), nil }
func (g *treeGen) Close() error                { return nil }
