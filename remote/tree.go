package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Tree asks the server for a whole subtree's metadata in one command,
// where SFTP v3 needs a round trip per directory and cannot tell inode
// numbers, link counts, change times or sub-second mtimes at all. GNU
// find's -printf gives every one of them, so the command is find, run
// through RunCommand (ErrNoCommands under -o remote_commands=no or over a
// transport without commands; the caller then lists as before).
//
// The answer streams: records are NUL-separated fields (any name
// parses), read through one bufio.Reader whose buffer caps a field, so a
// tree of a million names never sits in memory; each record is handed to
// the caller and dropped. The deadline is -o timeout after the last
// record (a big tree may take longer than one call, a silent server may
// not), and the caller's ctx ends the walk too. find's complaints
// (a subdirectory it may not read) go to /dev/null and do not end the
// walk: such a directory is marked Unlisted instead, so its listing is
// never taken for empty.

// TreeEntry is one name of a Tree answer.
type TreeEntry struct {
	// Path is relative to the served root; the first entry is the
	// directory asked about itself.
	Path string
	// Attr has Dev, Ino, Ctime, Nlink and a nanosecond Mtime.
	Attr   Attr
	Target string // a symlink's target
	// Depth is the entry's depth below the directory asked about (0 for
	// itself). A directory's entries follow it (find walks depth first),
	// and they are all there when Depth < maxDepth and not Unlisted.
	Depth int
	// Unlisted: a directory find may not read or search, so none of
	// its names are in the answer.
	Unlisted bool
}

// ErrNoTree says the server ran the command but did not answer as GNU
// find would (no find, a find without -printf such as BusyBox's, or an
// exec the server refused by ending the channel): ask no more on this
// connection.
var ErrNoTree = errors.New("the server has no GNU find")

// ErrTreeCut says the answer ended before find did (the connection or
// the command was cut): the entries given are right, but a directory
// whose names were being given when it ended may be short.
var ErrTreeCut = errors.New("the tree answer was cut short")

// maxTreeField caps one field of the answer (a name is at most PATH_MAX,
// a symlink target too): a longer one is a broken answer, not a reason
// to grow the buffer.
const maxTreeField = 64 << 10

// treeFields is the -printf format of one entry after its tag: path
// relative to the start, type, size, permission bits, owner, group,
// mtime and ctime (seconds with a fraction), device, inode, link count,
// symlink target.
const treeFields = `%P\0%y\0%s\0%m\0%U\0%G\0%T@\0%C@\0%D\0%i\0%n\0%l\0`

const treeFieldCount = 12

// treeScript is the shell Tree keeps running on the server: one exec
// channel (and one start of the login shell, which may read a slow
// ~/.bashrc: half a second on some machines) serves every request of
// the connection. A request is a line "DEPTH DIR", DIR with every byte
// but [A-Za-z0-9/._-] written \0NNN (printf %b reads it back: any name,
// and no whitespace for read to split on). A directory find may not list
// is tagged u, any other entry f; after find ends, the trailer e and its
// exit status tell that the answer is whole. EOF on its stdin ends it.
const treeScript = `while read -r n line; do d=$(printf '%bx' "$line"); d=${d%x}; ` +
	`LC_ALL=C find "$d" -mindepth 0 -maxdepth "$n" \( -type d \( ! -readable -o ! -executable \) -printf 'u\0` + treeFields + `' \) -o -printf 'f\0` + treeFields + `' 2>/dev/null; ` +
	`printf 'e\0%s\0' "$?"; done`

// TreeCommand is the command that starts the shell (README: the commands
// the mount runs on the server).
var TreeCommand = "exec /bin/sh -c " + shellQuote(treeScript) + " sftpmount-tree"

// treeRequest is the request line for dir.
func treeRequest(dir string, maxDepth int) []byte {
	b := fmt.Appendf(nil, "%d ", maxDepth)
	for i := 0; i < len(dir); i++ {
		ch := dir[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9', ch == '/', ch == '.', ch == '_', ch == '-':
			b = append(b, ch)
		default:
			b = fmt.Appendf(b, "\\0%03o", ch)
		}
	}
	return append(b, '\n')
}

// shellQuote quotes s for sh: single quotes, each ' written '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// treeShell is one running treeScript and the reader of its answers.
type treeShell struct {
	rw io.ReadWriteCloser
	br *bufio.Reader
}

// treeShells are the shells not answering a request now: at most
// maxIdleTrees are kept; each ends with the connection or Close.
type treeShells struct {
	mu     sync.Mutex
	idle   []*treeShell
	closed bool
}

const maxIdleTrees = 2

func (t *treeShells) take() *treeShell {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.idle); n > 0 {
		sh := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return sh
	}
	return nil
}

func (t *treeShells) put(sh *treeShell) {
	t.mu.Lock()
	if !t.closed && len(t.idle) < maxIdleTrees {
		t.idle = append(t.idle, sh)
		sh = nil
	}
	t.mu.Unlock()
	if sh != nil {
		sh.rw.Close()
	}
}

func (t *treeShells) close() {
	t.mu.Lock()
	idle := t.idle
	t.idle, t.closed = nil, true
	t.mu.Unlock()
	for _, sh := range idle {
		sh.rw.Close()
	}
}

// Tree streams the metadata of rel and everything below it down to
// maxDepth levels, calling each for every entry in find's order (a
// directory before its names). An error from each ends the walk and is
// returned. A shell kept from an earlier request that fails before its
// first entry (its connection was lost) is replaced once.
func (c *Client) Tree(ctx context.Context, rel string, maxDepth int, each func(TreeEntry) error) (err error) {
	ctx, cancel := progressContext(ctx, c.cfg.Timeout)
	defer cancel()
	c.calls.Add(1)
	start, given := time.Now(), 0
	defer func() {
		c.cfg.debugf("  exec find %s (%d levels): %v, %d entries in %v", c.abs(rel), maxDepth, errOrOK(err), given, time.Since(start).Round(time.Microsecond))
	}()
	for {
		sh, reused := c.trees.take(), true
		if sh == nil {
			rw, err := c.RunCommand(ctx, TreeCommand)
			if err != nil {
				return err
			}
			sh, reused = &treeShell{rw: rw, br: bufio.NewReaderSize(rw, maxTreeField)}, false
		}
		stop := context.AfterFunc(ctx, func() { sh.rw.Close() })
		given = 0
		_, err = sh.rw.Write(treeRequest(c.abs(rel), maxDepth))
		if err == nil {
			err = readTree(ctx, sh.br, rel, func(e TreeEntry) error { given++; return each(e) })
		}
		if !stop() || err != nil {
			sh.rw.Close()
		} else {
			c.trees.put(sh)
		}
		switch {
		case ctx.Err() != nil && (err == nil || errors.Is(err, ErrTreeCut) || errors.Is(err, ErrNoTree)):
			// Cut by the deadline, not a server without find.
			return fmt.Errorf("tree of %s: %w", rel, context.Cause(ctx))
		case err != nil && reused && given == 0 && ctx.Err() == nil:
			continue // a shell of a connection since lost
		}
		return err
	}
}

// readTree parses one Tree answer from br, up to its trailer.
func readTree(ctx context.Context, br *bufio.Reader, rel string, each func(TreeEntry) error) error {
	var fields [treeFieldCount][]byte
	var store []byte // the fields of one record, copied out of the buffer
	first := true
	for {
		tag, err := treeField(br)
		if err != nil {
			if first {
				return ErrNoTree
			}
			return err
		}
		switch string(tag) {
		case "e":
			if _, err := treeField(br); err != nil { // find's exit status
				return err
			}
			if first {
				return ErrNoTree
			}
			return nil
		case "f", "u":
		default:
			return fmt.Errorf("tree of %s: a record tagged %q", rel, tag)
		}
		unlisted := tag[0] == 'u'
		store = store[:0]
		var ends [treeFieldCount]int
		for i := range fields {
			f, err := treeField(br)
			if err != nil {
				return err
			}
			store = append(store, f...)
			ends[i] = len(store)
		}
		start := 0
		for i := range fields {
			fields[i] = store[start:ends[i]]
			start = ends[i]
		}
		e, err := parseTreeEntry(fields, rel)
		if err != nil {
			return err
		}
		if first && e.Depth != 0 {
			return ErrNoTree
		}
		first = false
		e.Unlisted = unlisted && e.Attr.Mode.IsDir()
		resume := progressed(ctx)
		err = each(e)
		resume()
		if err != nil {
			return err
		}
	}
}

// treeField reads one NUL-ended field; the slice is valid until the
// next read.
func treeField(br *bufio.Reader) ([]byte, error) {
	f, err := br.ReadSlice(0)
	switch {
	case err == nil:
		return f[:len(f)-1], nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("tree: a field longer than %d bytes", maxTreeField)
	case err == io.EOF || errors.Is(err, os.ErrClosed) || errors.Is(err, io.ErrClosedPipe):
		return nil, ErrTreeCut
	default:
		return nil, fmt.Errorf("%w: %v", ErrTreeCut, err)
	}
}

// parseTreeEntry makes an entry of one record's fields.
func parseTreeEntry(f [treeFieldCount][]byte, rel string) (TreeEntry, error) {
	var e TreeEntry
	p := string(f[0])
	if p != "" {
		e.Depth = strings.Count(p, "/") + 1
	}
	e.Path = path.Join(rel, p)
	if rel == "" && p == "" {
		e.Path = ""
	}
	var a Attr
	bad := func(what string) (TreeEntry, error) {
		return TreeEntry{}, fmt.Errorf("tree: entry %q: bad %s", e.Path, what)
	}
	switch string(f[1]) {
	case "f":
	case "d":
		a.Mode = os.ModeDir
	case "l":
		a.Mode = os.ModeSymlink
	case "b":
		a.Mode = os.ModeDevice
	case "c":
		a.Mode = os.ModeDevice | os.ModeCharDevice
	case "p":
		a.Mode = os.ModeNamedPipe
	case "s":
		a.Mode = os.ModeSocket
	default:
		return bad("type")
	}
	var err error
	num := func(b []byte, base, bits int) uint64 {
		if err != nil {
			return 0
		}
		var v uint64
		v, err = strconv.ParseUint(string(b), base, bits)
		return v
	}
	a.Size = num(f[2], 10, 64)
	perm := num(f[3], 8, 32)
	a.UID = uint32(num(f[4], 10, 32))
	a.GID = uint32(num(f[5], 10, 32))
	a.Dev = num(f[8], 10, 64)
	a.Ino = num(f[9], 10, 64)
	a.Nlink = uint32(num(f[10], 10, 32))
	if err != nil {
		return bad("number")
	}
	a.Mode |= os.FileMode(perm & 0777)
	if perm&04000 != 0 {
		a.Mode |= os.ModeSetuid
	}
	if perm&02000 != 0 {
		a.Mode |= os.ModeSetgid
	}
	if perm&01000 != 0 {
		a.Mode |= os.ModeSticky
	}
	var ok bool
	if a.Mtime, ok = parseFindTime(f[6]); !ok {
		return bad("mtime")
	}
	if a.Ctime, ok = parseFindTime(f[7]); !ok {
		return bad("ctime")
	}
	a.Atime = a.Mtime // find is not asked for atimes: reading the tree must not show it read
	e.Attr = a
	if a.Mode&os.ModeSymlink != 0 {
		e.Target = string(f[11])
	}
	return e, nil
}

// parseFindTime reads find's %T@: seconds, a point and a fraction (GNU
// find gives ten digits, of which nine are nanoseconds), exactly, without
// the rounding of a float.
func parseFindTime(b []byte) (time.Time, bool) {
	s := string(b)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	if neg {
		sec, ns = -sec, -ns
	}
	return time.Unix(sec, ns), true
}

// FindMount is the Mount of an Object a bulk answer told (FindObject):
// its FS is the file's st_dev, not statvfs's f_fsid as Identify's, so
// the two kinds are not compared.
const FindMount = ^uint64(0)

// FindObject is the Object of a file a bulk answer told: its device and
// inode number on the server.
func FindObject(a Attr) Object {
	return Object{Mount: FindMount, FS: a.Dev, Ino: a.Ino}
}
