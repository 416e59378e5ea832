package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Which names are one file. SFTP v3 carries no inode numbers, so two
// names a server linked look like two files, and tar -c or rsync -aH
// reading them through a mount store two copies. A Linux server still
// tells, to whoever asks its sftp-server the right way: a file the
// server holds open is an fd of that process, /proc/self/fd/N names the
// file's path, and /proc/self/fdinfo/N its mount and inode number.
// Identifier asks so, on a Conn of its own: its fds are then only
// those it opened.
//
// It never guesses. A file is identified only when the fd its open got
// links to the very path asked (its canonical path, as REALPATH gives
// it), its fdinfo has both numbers, and fstatvfs@openssh.com on the same
// open file gives its filesystem's id: (mount, inode) alone is not one
// file on btrfs, whose subvolumes and snapshots share a mount and number
// their inodes alike (every subvolume's first file is 257), but whose
// statfs mixes the subvolume into f_fsid. Anything else (no /proc, as
// under a chroot; another system; a server other than OpenSSH; a file it
// may not open; a name replaced meanwhile) leaves that file unknown.
//
// Only what the server has just said is a regular file is opened (an
// LSTAT first, on the same channel): opening a FIFO would block the
// server until a writer came, and a device's open may act. A name
// swapped between the LSTAT and the OPEN can still block it: the caller
// bounds the batch and gives up that channel (remote.Identify), and the
// worst outcome is "not known".

// Object is a file's identity on its server: the mount it is on, its
// filesystem's id (statvfs's f_fsid: a btrfs subvolume's own) and its
// inode number there. The zero Object is unknown.
type Object struct{ Mount, FS, Ino uint64 }

// Known reports whether o names a file.
func (o Object) Known() bool { return o.Ino != 0 }

// Identifier finds the Objects of paths on a Conn nothing else uses.
type Identifier struct {
	c  *Conn
	mu sync.Mutex // one batch at a time: each predicts the fds its files get

	// rest are the fds the server holds with no file of ours open, as
	// last listed; nil until listed, and again after a prediction missed.
	rest map[int]bool
}

// NewIdentifier uses c, which nothing else may use, for Identify.
func NewIdentifier(c *Conn) *Identifier { return &Identifier{c: c} }

// Conn is the Identifier's Conn.
func (id *Identifier) Conn() *Conn { return id.c }

// ErrNoProc is Identify's answer from a server whose /proc/self/fd cannot
// be listed: it will never tell.
var ErrNoProc = errors.New("the server's /proc/self/fd cannot be listed")

// MaxBatch bounds the paths of one Identify: each holds two fds of the
// server open (the file and its fdinfo), far below its usual 1 024.
const MaxBatch = 128

// Identify returns the Object of each path (absolute, or relative to the
// server's start directory), unknown where it cannot tell. Two round
// trips a batch. A server opens a file on the lowest fd free, so the fds
// the batch's files get are known ahead from the fds it holds at rest
// (listed once, three round trips more): the opens, each file's
// canonical path, the link of each fd the files should get and those
// fds' fdinfo are sent at once, and the fdinfo of each fd whose link is
// a path asked is read in the second. A prediction that missed (the
// server opened something of its own) leaves those files unknown and
// the fds listed again for the next batch. Its error is the Conn's (a
// broken stream, ctx's end), or ErrNoProc; a file that cannot be
// identified is not an error.
func (id *Identifier) Identify(ctx context.Context, paths []string) ([]Object, error) {
	if len(paths) > MaxBatch {
		return nil, errors.New("wire: Identify of more than MaxBatch paths")
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.rest == nil {
		rest, err := id.listFds(ctx)
		if err != nil {
			return nil, err
		}
		id.rest = rest
	}
	out, missed, err := id.batch(ctx, paths)
	if err != nil || missed {
		id.rest = nil // what the server holds is not known any more
	}
	return out, err
}

// batch is one Identify with the fds at rest known.
func (id *Identifier) batch(ctx context.Context, paths []string) (out []Object, missed bool, err error) {
	c := id.c
	out = make([]Object, len(paths))
	if !c.Has(fstatvfs) {
		return out, false, nil // no filesystem id: nothing is certain
	}
	var held []string // handles to close, once the batch is done
	defer func() {
		for _, h := range held {
			c.closeLater(h) // in order, before the next batch
		}
	}()

	// 0. Which paths are regular files now: only those are opened.
	regular, err := id.regularFiles(ctx, paths)
	if err != nil || len(regular) == 0 {
		return out, false, err
	}
	fds := make([]int, 0, len(regular))
	for fd := 0; len(fds) < len(regular); fd++ {
		if !id.rest[fd] {
			fds = append(fds, fd)
		}
	}

	// 1. Everything but the reads, at once: the server runs a session's
	// requests in order and opens a file on the lowest free fd, so the
	// k-th open that succeeds gets fds[k], every file is open before any
	// link is read, and every link read before any fdinfo is opened
	// (which take fds of their own).
	open := func(p string) (asked, error) {
		return c.start(typeOpen, (&Attrs{}).encode(binary.BigEndian.AppendUint32(appendString(nil, p), OpenRead)))
	}
	opens := make([]asked, len(regular))
	reals := make([]asked, len(regular))
	for k, i := range regular {
		if opens[k], err = open(paths[i]); err != nil {
			return nil, false, err
		}
		if reals[k], err = c.start(typeRealpath, appendString(nil, paths[i])); err != nil {
			return nil, false, err
		}
	}
	links := make([]asked, len(fds))
	for j, fd := range fds {
		if links[j], err = c.start(typeReadlink, appendString(nil, "/proc/self/fd/"+strconv.Itoa(fd))); err != nil {
			return nil, false, err
		}
	}
	infos := make([]asked, len(fds))
	for j, fd := range fds {
		if infos[j], err = open("/proc/self/fdinfo/" + strconv.Itoa(fd)); err != nil {
			return nil, false, err
		}
	}
	type file struct {
		i      int    // its index in paths
		handle string // its open's
		canon  string // its canonical path
	}
	var files []file // those opened, in the order of their fds
	for k, i := range regular {
		h, err := handleOf(ctx, opens[k])
		if err == nil {
			held = append(held, h)
		} else if !isStatus(err) {
			return nil, false, err
		}
		r, err := reals[k].wait(ctx)
		if err != nil {
			return nil, false, err
		}
		if h != "" {
			name, _ := firstName(r)
			files = append(files, file{i, h, name})
		}
	}
	target := make([]string, len(fds))
	infoH := make([]string, len(fds))
	for j := range fds {
		r, err := links[j].wait(ctx)
		if err != nil {
			return nil, false, err
		}
		target[j], _ = firstName(r)
		h, err := handleOf(ctx, infos[j])
		if err == nil {
			held = append(held, h)
			infoH[j] = h
		} else if !isStatus(err) {
			return nil, false, err
		}
	}

	// 2. The fdinfo of each file's fd whose link is the file's path, and
	// its filesystem's id through its own handle.
	reads := make([]asked, len(files))
	fsids := make([]asked, len(files))
	for k, f := range files {
		if f.canon == "" || target[k] != f.canon || infoH[k] == "" {
			missed = true
			continue
		}
		body := binary.BigEndian.AppendUint64(appendString(nil, infoH[k]), 0)
		if reads[k], err = c.start(typeRead, binary.BigEndian.AppendUint32(body, 4096)); err != nil {
			return nil, false, err
		}
		if fsids[k], err = c.start(typeExtended, appendString(appendString(nil, fstatvfs), f.handle)); err != nil {
			return nil, false, err
		}
	}
	for k, f := range files {
		if reads[k].c == nil {
			continue
		}
		r, err := reads[k].wait(ctx)
		if err != nil {
			return nil, false, err
		}
		v, err := fsids[k].wait(ctx)
		if err != nil {
			return nil, false, err
		}
		fsid, ok := fsidOf(v)
		if r.typ != typeData || !ok {
			continue
		}
		d := decoder{b: r.body}
		if o, ok := parseFdinfo(d.string()); ok && d.err == nil {
			o.FS = fsid
			out[f.i] = o
		}
	}
	return out, missed, nil
}

const fstatvfs = "fstatvfs@openssh.com"

// fsidOf is f_fsid of an fstatvfs@openssh.com reply: the ninth of its
// eleven 64-bit fields.
func fsidOf(r reply) (uint64, bool) {
	if r.typ != typeExtendedReply {
		return 0, false
	}
	d := decoder{b: r.body}
	var v [11]uint64
	for i := range v {
		v[i] = d.uint64()
	}
	return v[8], d.err == nil
}

// regularFiles are the indices of paths that LSTAT says are regular
// files (not links, FIFOs, devices or directories), asked all at once.
func (id *Identifier) regularFiles(ctx context.Context, paths []string) ([]int, error) {
	stats := make([]asked, len(paths))
	for i, p := range paths {
		var err error
		if stats[i], err = id.c.start(typeLstat, appendString(nil, p)); err != nil {
			return nil, err
		}
	}
	var out []int
	for i := range paths {
		r, err := stats[i].wait(ctx)
		if err != nil {
			return nil, err
		}
		if r.typ != typeAttrs {
			continue // gone, or not ours to see
		}
		d := decoder{b: r.body}
		if a := d.attrs(); d.err == nil && a.HasPerm && a.Perm&sIFMT == sIFREG {
			out = append(out, i)
		}
	}
	return out, nil
}

// The file type bits of SFTP v3's permissions, as POSIX's st_mode.
const (
	sIFMT  = 0o170000
	sIFREG = 0o100000
)

// listFds lists the fds the server holds (less the listing's own):
// /proc/self/fd listed, and each entry's link read to find the
// listing's own fd, whose link is the directory /proc/PID/fd.
func (id *Identifier) listFds(ctx context.Context) (map[int]bool, error) {
	c := id.c
	r, err := c.start(typeOpendir, appendString(nil, "/proc/self/fd"))
	if err != nil {
		return nil, err
	}
	dh, err := handleOf(ctx, r)
	if err != nil {
		if isStatus(err) {
			return nil, ErrNoProc
		}
		return nil, err
	}
	var fds []int
	err = c.readDir(ctx, dh, 2, func(es []Entry) bool {
		for _, e := range es {
			if n, err := strconv.Atoi(e.Name); err == nil && n >= 0 && n < 1<<20 {
				fds = append(fds, n)
			}
		}
		return true
	})
	if err != nil {
		c.closeLater(dh)
		if isStatus(err) {
			return nil, ErrNoProc
		}
		return nil, err
	}
	links := make([]asked, len(fds))
	for j, fd := range fds {
		if links[j], err = c.start(typeReadlink, appendString(nil, "/proc/self/fd/"+strconv.Itoa(fd))); err != nil {
			return nil, err
		}
	}
	c.closeLater(dh)
	rest := map[int]bool{}
	for j, fd := range fds {
		r, err := links[j].wait(ctx)
		if err != nil {
			return nil, err
		}
		if target, _ := firstName(r); !procFd.MatchString(target) {
			rest[fd] = true
		}
	}
	return rest, nil
}

// procFd is the link of an fd open on a /proc/PID/fd directory.
var procFd = regexp.MustCompile(`^/proc/[0-9]+/fd$`)

// parseFdinfo reads the mnt_id and ino lines of an fdinfo file (Linux
// 5.14 and later have ino).
func parseFdinfo(s string) (Object, bool) {
	var o Object
	var haveMnt, haveIno bool
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		switch {
		case err != nil:
		case k == "mnt_id":
			o.Mount, haveMnt = n, true
		case k == "ino":
			o.Ino, haveIno = n, true
		}
	}
	return o, haveMnt && haveIno && o.Ino != 0
}

// handleOf is the handle an OPEN or OPENDIR's reply gives.
func handleOf(ctx context.Context, p asked) (string, error) {
	body, err := p.answer(ctx)
	if err != nil {
		return "", err
	}
	d := decoder{b: body}
	h := d.string()
	if d.err == nil && len(h) > 256 {
		d.fail("handle of %d bytes, more than SFTP's 256", len(h))
	}
	return h, d.err
}

// firstName is the one name of a REALPATH or READLINK reply.
func firstName(r reply) (string, bool) {
	if r.typ != typeName {
		return "", false
	}
	d := decoder{b: r.body}
	if d.uint32() != 1 {
		return "", false
	}
	name := d.string()
	return name, d.err == nil
}

// isStatus reports whether err is the server's answer (a STATUS), not a
// broken Conn or a deadline.
func isStatus(err error) bool {
	var st *StatusError
	return errors.As(err, &st)
}
