package remote

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutter stands between the client and a server and cuts the connection
// at the first request of type typ once armed: with served, the server
// gets it and its answer is lost; without, it never reaches the server.
type cutter struct {
	typ    byte
	served bool
	armed  atomic.Bool
	drop   atomic.Bool   // answers are lost from here on
	cut    chan struct{} // closed once the request is seen
	once   sync.Once
}

// SFTP request types (draft-ietf-secsh-filexfer-02).
const (
	fxpOpen     = 3
	fxpRemove   = 13
	fxpMkdir    = 14
	fxpRmdir    = 15
	fxpRename   = 18
	fxpSymlink  = 20
	fxpExtended = 200 // posix-rename@openssh.com, hardlink@openssh.com
)

func (c *cutter) serve(serve func(io.Reader, io.WriteCloser)) func(io.Reader, io.WriteCloser) {
	return func(r io.Reader, w io.WriteCloser) {
		pr, pw := io.Pipe()
		go func() {
			defer pw.Close()
			for {
				var hdr [5]byte
				if _, err := io.ReadFull(r, hdr[:]); err != nil {
					return
				}
				body := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
				if _, err := io.ReadFull(r, body); err != nil {
					return
				}
				if c.armed.Load() && hdr[4] == c.typ {
					c.once.Do(func() { close(c.cut) })
					if !c.served {
						io.Copy(io.Discard, r) // stalled: never passed on
						return
					}
					c.drop.Store(true)
				}
				if _, err := pw.Write(append(hdr[:], body...)); err != nil {
					return
				}
			}
		}()
		serve(pr, dropWriter{w, &c.drop})
	}
}

type dropWriter struct {
	w    io.WriteCloser
	drop *atomic.Bool
}

func (d dropWriter) Write(p []byte) (int, error) {
	if d.drop.Load() {
		return len(p), nil
	}
	return d.w.Write(p)
}
func (d dropWriter) Close() error { return d.w.Close() }

// Every change that is not repeated blindly, cut off by a lost connection
// after its request went out and before its answer came, whether or not
// the server did it, answers as it would have: done, and the server's
// directory is as the change leaves it.
func TestAChangeCutOffByALostConnectionIsSettledNotFailed(t *testing.T) {
	type change struct {
		name  string
		typ   byte
		setup func(dir string)
		do    func(ctx context.Context, c *Client) error
		check func(t *testing.T, dir string)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0644); err != nil {
			panic(err)
		}
	}
	gone := func(t *testing.T, p string) {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want gone", p, err)
		}
	}
	holds := func(t *testing.T, p, want string) {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("%s holds %q (%v), want %q", p, got, err, want)
		}
	}
	changes := []change{
		{"mkdir", fxpMkdir, nil,
			func(ctx context.Context, c *Client) error { return c.Mkdir(ctx, "d", 0755) },
			func(t *testing.T, dir string) {
				if fi, err := os.Lstat(filepath.Join(dir, "d")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0755 {
					t.Errorf("d: %v %v", fi, err)
				}
			}},
		{"rmdir", fxpRmdir, func(dir string) { os.Mkdir(filepath.Join(dir, "d"), 0755) },
			func(ctx context.Context, c *Client) error { return c.Rmdir(ctx, "d") },
			func(t *testing.T, dir string) { gone(t, filepath.Join(dir, "d")) }},
		{"unlink", fxpRemove, func(dir string) { write(filepath.Join(dir, "f"), "x") },
			func(ctx context.Context, c *Client) error { return c.Remove(ctx, "f") },
			func(t *testing.T, dir string) { gone(t, filepath.Join(dir, "f")) }},
		{"rename", fxpExtended, func(dir string) { write(filepath.Join(dir, "a"), "aa") },
			func(ctx context.Context, c *Client) error { return c.Rename(ctx, "a", "b") },
			func(t *testing.T, dir string) {
				gone(t, filepath.Join(dir, "a"))
				holds(t, filepath.Join(dir, "b"), "aa")
			}},
		{"rename over an existing name", fxpExtended,
			func(dir string) { write(filepath.Join(dir, "a"), "aa"); write(filepath.Join(dir, "b"), "bbb") },
			func(ctx context.Context, c *Client) error { return c.Rename(ctx, "a", "b") },
			func(t *testing.T, dir string) {
				gone(t, filepath.Join(dir, "a"))
				holds(t, filepath.Join(dir, "b"), "aa")
			}},
		{"symlink", fxpSymlink, nil,
			func(ctx context.Context, c *Client) error { return c.Symlink(ctx, "/t", "l") },
			func(t *testing.T, dir string) {
				if got, err := os.Readlink(filepath.Join(dir, "l")); got != "/t" {
					t.Errorf("l -> %q (%v)", got, err)
				}
			}},
		{"link", fxpExtended, func(dir string) { write(filepath.Join(dir, "f"), "ff") },
			func(ctx context.Context, c *Client) error { return c.Link(ctx, "f", "g") },
			func(t *testing.T, dir string) { holds(t, filepath.Join(dir, "g"), "ff") }},
		{"create", fxpOpen, nil,
			func(ctx context.Context, c *Client) error {
				return createAndWrite(ctx, c, "n", os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
			},
			func(t *testing.T, dir string) { holds(t, filepath.Join(dir, "n"), "new") }},
		{"O_EXCL create", fxpOpen, nil,
			func(ctx context.Context, c *Client) error {
				return createAndWrite(ctx, c, "n", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			},
			func(t *testing.T, dir string) { holds(t, filepath.Join(dir, "n"), "new") }},
	}
	for _, ch := range changes {
		for _, served := range []bool{true, false} {
			name := ch.name + ", not done by the server"
			if served {
				name = ch.name + ", done by the server"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				if ch.setup != nil {
					ch.setup(dir)
				}
				c, cut := cutClient(t, dir, ch.typ, served, nil)
				if err := ch.do(context.Background(), c); err != nil {
					t.Fatalf("%s cut off: %v, want done", ch.name, err)
				}
				if !cut() {
					t.Fatal("the connection was not cut")
				}
				ch.check(t, dir)
			})
		}
	}
}

// createAndWrite creates rel with flags and writes "new" through it.
func createAndWrite(ctx context.Context, c *Client, rel string, flags int) error {
	f, err := c.OpenFile(ctx, rel, flags)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(ctx, []byte("new"), 0); err != nil {
		return err
	}
	return f.Close(ctx)
}

// cutClient is a client of dir whose first session is cut at the first
// request of type typ (see cutter); meanwhile, once cut, runs before the
// client may reconnect: another client's change. cut reports whether the
// connection was cut.
func cutClient(t *testing.T, dir string, typ byte, served bool, meanwhile func()) (*Client, func() bool) {
	cu := &cutter{typ: typ, served: served, cut: make(chan struct{})}
	first := pipeSession(t, cu.serve(realServer(t, dir)))
	c := testClient(first, 10*time.Second, dir)
	c.cfg.Reconnect = true
	redialed := make(chan struct{})
	c.dialFn = func(context.Context) (*session, error) {
		<-redialed
		return pipeSession(t, realServer(t, dir)), nil
	}
	go func() {
		<-cu.cut
		time.Sleep(50 * time.Millisecond) // the server has done it, if it was to
		if meanwhile != nil {
			meanwhile()
		}
		first.close(ErrConnectionLost)
		close(redialed)
	}()
	cu.armed.Store(true)
	return c, func() bool { return first.isDead() }
}

// lockedLog is a -d log that a test reads while the client's background
// work may still write to it.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Where another client changed the name while the connection was down,
// the change answers what the server's state says: EEXIST for a name made
// meanwhile (an O_EXCL create stays exclusive), ErrUnsettled where the
// state cannot tell.
func TestAChangeCutOffWhileAnotherClientChangedItsNameAnswersWhatTheStateSays(t *testing.T) {
	cases := []struct {
		name      string
		typ       byte
		served    bool
		setup     func(dir string)
		meanwhile func(dir string)
		do        func(ctx context.Context, c *Client) error
		want      error
		logged    string // what the -d log says of it
	}{
		{"O_EXCL create, another made it non-empty", fxpOpen, false, nil,
			func(dir string) { os.WriteFile(filepath.Join(dir, "n"), []byte("theirs"), 0644) },
			func(ctx context.Context, c *Client) error {
				return createAndWrite(ctx, c, "n", os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			}, os.ErrExist, "another client made it meanwhile (a file, -rw-r--r--, 6 bytes)"},
		{"mkdir, another made a file there", fxpMkdir, false, nil,
			func(dir string) { os.WriteFile(filepath.Join(dir, "d"), nil, 0644) },
			func(ctx context.Context, c *Client) error { return c.Mkdir(ctx, "d", 0755) }, os.ErrExist, "another client made a file"},
		{"rename done, another removed the target", fxpExtended, true,
			func(dir string) { os.WriteFile(filepath.Join(dir, "a"), []byte("aa"), 0644) },
			func(dir string) { os.Remove(filepath.Join(dir, "b")) },
			func(ctx context.Context, c *Client) error { return c.Rename(ctx, "a", "b") }, ErrUnsettled,
			"the source and the target are both gone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(dir)
			}
			c, _ := cutClient(t, dir, tc.typ, tc.served, func() { tc.meanwhile(dir) })
			var debug lockedLog // the reconnect's startWire logs in the background
			c.cfg.Debug = log.New(&debug, "", 0)
			if err := tc.do(context.Background(), c); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.Contains(debug.String(), "cut off by a lost connection") || !strings.Contains(debug.String(), tc.logged) {
				t.Errorf("the -d log does not name the case (%q):\n%s", tc.logged, debug.String())
			}
		})
	}
}
