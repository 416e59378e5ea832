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
// It never guesses. A file is identified only when the fd's link names
// the very path asked (its canonical path, as REALPATH gives it) and its
// fdinfo has both numbers. Anything else (no /proc, as under a chroot;
// another system; a server other than OpenSSH; a file it may not open;
// a name replaced meanwhile) leaves that file unknown, as before.
// Only regular files may be asked: opening a FIFO would block the
// server.

const (
	typeRead     = 5
	typeRealpath = 16
	typeReadlink = 19
	typeData     = 103
)

// Object is a file's identity on its server: the mount it is on and its
// inode number there. The zero Object is unknown.
type Object struct{ Mount, Ino uint64 }

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
	var held []string // handles to close, once the batch is done
	defer func() {
		for _, h := range held {
			c.start(typeClose, appendString(nil, h)) // in order, before the next batch
		}
	}()
	open := func(p string) (asked, error) {
		return c.start(typeOpen, (&Attrs{}).encode(binary.BigEndian.AppendUint32(appendString(nil, p), OpenRead)))
	}
	fds := make([]int, 0, len(paths))
	for fd := 0; len(fds) < len(paths); fd++ {
		if !id.rest[fd] {
			fds = append(fds, fd)
		}
	}

	// 1. Everything but the reads, at once: the server runs a session's
	// requests in order, so every file is open before any link is read,
	// and every link read before any fdinfo is opened (which take fds
	// of their own: an fd whose link was not a file of ours is not used).
	opens := make([]asked, len(paths))
	reals := make([]asked, len(paths))
	for i, p := range paths {
		if opens[i], err = open(p); err != nil {
			return nil, false, err
		}
		if reals[i], err = c.start(typeRealpath, appendString(nil, p)); err != nil {
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
	canon := map[string][]int{} // canonical path: the paths asked that are it
	opened := 0
	for i := range paths {
		h, err := handleOf(ctx, opens[i])
		if err == nil {
			held = append(held, h)
			opened++
		} else if !isStatus(err) {
			return nil, false, err
		}
		r, err := reals[i].wait(ctx)
		if err != nil {
			return nil, false, err
		}
		if name, ok := firstName(r); ok && h != "" {
			canon[name] = append(canon[name], i)
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

	// 2. The fdinfo of the fds that hold a file asked.
	reads := make([]asked, len(fds))
	matched := 0
	for j := range fds {
		if len(canon[target[j]]) == 0 || infoH[j] == "" {
			continue
		}
		matched++
		body := binary.BigEndian.AppendUint64(appendString(nil, infoH[j]), 0)
		if reads[j], err = c.start(typeRead, binary.BigEndian.AppendUint32(body, 4096)); err != nil {
			return nil, false, err
		}
	}
	for j := range fds {
		if reads[j].c == nil {
			continue
		}
		r, err := reads[j].wait(ctx)
		if err != nil {
			return nil, false, err
		}
		if r.typ != typeData {
			continue
		}
		d := decoder{b: r.body}
		if o, ok := parseFdinfo(d.string()); ok && d.err == nil {
			for _, i := range canon[target[j]] {
				out[i] = o
			}
		}
	}
	return out, matched < opened, nil
}

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
	err = readAll(ctx, c, dh, func(es []Entry) {
		for _, e := range es {
			if n, err := strconv.Atoi(e.Name); err == nil && n >= 0 && n < 1<<20 {
				fds = append(fds, n)
			}
		}
	})
	if err != nil {
		c.start(typeClose, appendString(nil, dh))
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
	c.start(typeClose, appendString(nil, dh))
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
	r, err := p.wait(ctx)
	if err != nil {
		return "", err
	}
	if r.typ != typeHandle {
		return "", statusOrUnexpected(r, "HANDLE")
	}
	d := decoder{b: r.body}
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

// readAll reads directory handle h to its end, two READDIRs in flight.
func readAll(ctx context.Context, c *Conn, h string, fn func([]Entry)) error {
	var pending []asked
	for len(pending) < 2 {
		p, err := c.start(typeReaddir, appendString(nil, h))
		if err != nil {
			return err
		}
		pending = append(pending, p)
	}
	for len(pending) > 0 {
		r, err := pending[0].wait(ctx)
		pending = pending[1:]
		if err != nil {
			return err
		}
		if r.typ == typeStatus {
			err := status(r)
			var st *StatusError
			if errors.As(err, &st) && st.Code == StatusEOF {
				return nil
			}
			if err == nil {
				err = &ProtocolError{"STATUS OK where NAME was due"}
			}
			return err
		}
		es, err := names(r.body)
		if err != nil {
			return err
		}
		fn(es)
		p, err := c.start(typeReaddir, appendString(nil, h))
		if err != nil {
			return err
		}
		pending = append(pending, p)
	}
	return nil
}

// isStatus reports whether err is the server's answer (a STATUS), not a
// broken Conn or a deadline.
func isStatus(err error) bool {
	var st *StatusError
	return errors.As(err, &st)
}
