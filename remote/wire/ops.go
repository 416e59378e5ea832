package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Attrs are SFTP v3 file attributes; the Has* flags say which were sent.
type Attrs struct {
	HasSize  bool
	Size     uint64
	HasOwner bool
	UID, GID uint32
	HasPerm  bool
	Perm     uint32 // mode bits, file type included when the server sends it
	HasTimes bool
	Atime    time.Time
	Mtime    time.Time
	Extended map[string]string
}

const (
	attrSize      = 0x1
	attrUIDGID    = 0x2
	attrPerm      = 0x4
	attrACModTime = 0x8
	attrExtended  = 0x80000000
)

func (a *Attrs) encode(b []byte) []byte {
	var flags uint32
	if a.HasSize {
		flags |= attrSize
	}
	if a.HasOwner {
		flags |= attrUIDGID
	}
	if a.HasPerm {
		flags |= attrPerm
	}
	if a.HasTimes {
		flags |= attrACModTime
	}
	b = binary.BigEndian.AppendUint32(b, flags)
	if a.HasSize {
		b = binary.BigEndian.AppendUint64(b, a.Size)
	}
	if a.HasOwner {
		b = binary.BigEndian.AppendUint32(b, a.UID)
		b = binary.BigEndian.AppendUint32(b, a.GID)
	}
	if a.HasPerm {
		b = binary.BigEndian.AppendUint32(b, a.Perm)
	}
	if a.HasTimes {
		b = binary.BigEndian.AppendUint32(b, uint32(a.Atime.Unix()))
		b = binary.BigEndian.AppendUint32(b, uint32(a.Mtime.Unix()))
	}
	return b
}

func (d *decoder) attrs() Attrs {
	var a Attrs
	flags := d.uint32()
	if flags&attrSize != 0 {
		a.HasSize, a.Size = true, d.uint64()
	}
	if flags&attrUIDGID != 0 {
		a.HasOwner, a.UID, a.GID = true, d.uint32(), d.uint32()
	}
	if flags&attrPerm != 0 {
		a.HasPerm, a.Perm = true, d.uint32()
	}
	if flags&attrACModTime != 0 {
		a.HasTimes = true
		a.Atime = time.Unix(int64(d.uint32()), 0)
		a.Mtime = time.Unix(int64(d.uint32()), 0)
	}
	if flags&attrExtended != 0 {
		n := d.uint32()
		if uint64(n)*8 > uint64(len(d.b)) { // each pair is at least two lengths
			d.fail("extended attribute count %d longer than the packet", n)
			return a
		}
		a.Extended = map[string]string{}
		for i := uint32(0); i < n && d.err == nil; i++ {
			k := d.string()
			a.Extended[k] = d.string()
		}
	}
	return a
}

// decoder reads SFTP's big-endian fields, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &ProtocolError{fmt.Sprintf(format, args...)}
	}
	d.b = nil
}

func (d *decoder) uint32() uint32 {
	if len(d.b) < 4 {
		d.fail("reply ends inside a 32-bit field")
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.fail("reply ends inside a 64-bit field")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) string() string {
	n := d.uint32()
	if d.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(d.b)) {
		d.fail("string of %d bytes in a reply with %d left", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// Lstat returns path's own attributes.
func (c *Conn) Lstat(ctx context.Context, path string) (Attrs, error) {
	p, err := c.start(typeLstat, appendString(nil, path))
	if err != nil {
		return Attrs{}, err
	}
	return attrsOf(ctx, p)
}

// attrsOf is the attributes an LSTAT's reply gives.
func attrsOf(ctx context.Context, p asked) (Attrs, error) {
	body, err := p.answer(ctx)
	if err != nil {
		return Attrs{}, err
	}
	d := decoder{b: body}
	a := d.attrs()
	return a, d.err
}

// MkdirLstat makes directory path with attributes a (the server's
// umask applies to a mode) and asks for its attributes in the same round
// trip: the LSTAT is sent behind the MKDIR without waiting, and the
// server answers a session's requests in order. A failed MKDIR is its
// error, whatever the LSTAT found.
func (c *Conn) MkdirLstat(ctx context.Context, path string, a Attrs) (Attrs, error) {
	mk, err := c.start(typeMkdir, a.encode(appendString(nil, path)))
	if err != nil {
		return Attrs{}, err
	}
	st, err := c.start(typeLstat, appendString(nil, path))
	if err != nil {
		return Attrs{}, err
	}
	r, err := mk.wait(ctx)
	if err != nil {
		return Attrs{}, err
	}
	if err := status(r); err != nil {
		return Attrs{}, err
	}
	return attrsOf(ctx, st)
}

// Open flags (SSH_FXF_*).
const (
	OpenRead   = 0x1
	OpenWrite  = 0x2
	OpenAppend = 0x4
	OpenCreate = 0x8
	OpenTrunc  = 0x10
	OpenExcl   = 0x20
)

// Open opens path with SSH_FXF_* flags and returns the server's handle.
func (c *Conn) Open(ctx context.Context, path string, flags uint32, a Attrs) (string, error) {
	body := binary.BigEndian.AppendUint32(appendString(nil, path), flags)
	p, err := c.start(typeOpen, a.encode(body))
	if err != nil {
		return "", err
	}
	return handleOf(ctx, p)
}

// CloseHandle closes a handle Open returned.
func (c *Conn) CloseHandle(ctx context.Context, handle string) error {
	r, err := c.call(ctx, typeClose, appendString(nil, handle))
	if err != nil {
		return err
	}
	return status(r)
}

// extended sends SSH_FXP_EXTENDED name with body; the reply is STATUS, or
// EXTENDED_REPLY whose data is returned.
func (c *Conn) extended(ctx context.Context, name string, body []byte) ([]byte, error) {
	r, err := c.call(ctx, typeExtended, append(appendString(nil, name), body...))
	if err != nil {
		return nil, err
	}
	if r.typ == typeExtendedReply {
		return r.body, nil
	}
	return nil, status(r) // OK, or a failure
}

// Unsupported is the error of an extension the server does not offer.
func unsupported(name string) error {
	return &StatusError{Code: StatusOpUnsupported, Msg: name + " is not offered by the server"}
}

// LSetStat sets a path's own attributes, not following a symlink
// (lsetstat@openssh.com, OpenSSH 8.0).
func (c *Conn) LSetStat(ctx context.Context, path string, a Attrs) error {
	const name = "lsetstat@openssh.com"
	if !c.Has(name) {
		return unsupported(name)
	}
	_, err := c.extended(ctx, name, a.encode(appendString(nil, path)))
	return err
}

// Limits are what limits@openssh.com reports; 0 means no limit.
type Limits struct {
	MaxPacket, MaxRead, MaxWrite, MaxOpenHandles uint64
}

// Limits asks the server's limits (limits@openssh.com, OpenSSH 8.6).
func (c *Conn) Limits(ctx context.Context) (Limits, error) {
	const name = "limits@openssh.com"
	if !c.Has(name) {
		return Limits{}, unsupported(name)
	}
	body, err := c.extended(ctx, name, nil)
	if err != nil {
		return Limits{}, err
	}
	if body == nil {
		return Limits{}, &ProtocolError{"limits@openssh.com answered with STATUS OK"}
	}
	d := decoder{b: body}
	l := Limits{MaxPacket: d.uint64(), MaxRead: d.uint64(), MaxWrite: d.uint64(), MaxOpenHandles: d.uint64()}
	return l, d.err
}

// CopyData copies n bytes (0: to the end of the source) from readHandle
// at readOff to writeHandle at writeOff on the server, without the bytes
// crossing the link (copy-data, OpenSSH 9.0). Both handles must be this
// Conn's; the source open for reading, the destination for writing.
func (c *Conn) CopyData(ctx context.Context, readHandle string, readOff, n uint64, writeHandle string, writeOff uint64) error {
	const name = "copy-data"
	if !c.Has(name) {
		return unsupported(name)
	}
	b := appendString(nil, readHandle)
	b = binary.BigEndian.AppendUint64(b, readOff)
	b = binary.BigEndian.AppendUint64(b, n)
	b = appendString(b, writeHandle)
	b = binary.BigEndian.AppendUint64(b, writeOff)
	_, err := c.extended(ctx, name, b)
	return err
}

// Entry is one name of a directory listing: the server's attributes, and
// the link count OpenSSH writes in the ls -l style long name (0 when the
// long name does not say).
type Entry struct {
	Name  string
	Attrs Attrs
	Nlink uint32
}

// maxInFlight bounds a listing's READDIRs on their way: OpenSSH's replies
// hold 100 names, so 64 are some 640 KiB of names.
const maxInFlight = 64

// ReadDir lists dir with several READDIR requests in flight at once
// (OpenSSH answers them in order, a batch each), calling fn for each
// batch as it arrives, "." and ".." left out; the handle's close is sent
// without waiting for its answer. fn returning false stops the listing.
// It starts with inFlight requests and, for a directory that goes on,
// sends two for every batch received until maxInFlight are out: a small
// directory costs a few requests, a large one as many as a round trip
// can use.
func (c *Conn) ReadDir(ctx context.Context, dir string, inFlight int, fn func([]Entry) bool) error {
	p, err := c.start(typeOpendir, appendString(nil, dir))
	if err != nil {
		return err
	}
	h, err := handleOf(ctx, p)
	if err != nil {
		return err
	}
	defer c.closeLater(h)
	return c.readDir(ctx, h, inFlight, fn)
}

// readDir reads directory handle h to its end or until fn returns false:
// the READDIR pipeline of ReadDir and of Identifier's listing of fds.
func (c *Conn) readDir(ctx context.Context, h string, inFlight int, fn func([]Entry) bool) error {
	inFlight = max(1, inFlight)
	// One goroutine starts every READDIR, so the server sees them in
	// this order and answers each with the next batch.
	var pending []asked
	send := func() error {
		p, err := c.start(typeReaddir, appendString(nil, h))
		if err == nil {
			pending = append(pending, p)
		}
		return err
	}
	for i := 0; i < inFlight; i++ {
		if err := send(); err != nil {
			return err
		}
	}
	for len(pending) > 0 {
		body, err := pending[0].answer(ctx)
		pending = pending[1:]
		var st *StatusError
		if errors.As(err, &st) && st.Code == StatusEOF {
			return nil // those sent after it get EOF too
		}
		if err != nil {
			return err
		}
		entries, err := names(body)
		if err != nil {
			return err
		}
		if !fn(entries) {
			return nil
		}
		for n := 0; n < 2 && (n == 0 || len(pending) < maxInFlight); n++ {
			if err := send(); err != nil {
				return err
			}
		}
	}
	return nil
}

// names decodes a NAME reply.
func names(body []byte) ([]Entry, error) {
	d := decoder{b: body}
	n := d.uint32()
	if uint64(n)*13 > uint64(len(d.b)) { // each name is at least two lengths and the flags
		d.fail("NAME reply of %d names in %d bytes", n, len(d.b))
	}
	out := make([]Entry, 0, min(n, 1024))
	for i := uint32(0); i < n && d.err == nil; i++ {
		name, long := d.string(), d.string()
		a := d.attrs()
		if name == "." || name == ".." {
			continue
		}
		out = append(out, Entry{Name: name, Attrs: a, Nlink: linkCount(long)})
	}
	return out, d.err
}

// linkCount reads the link count from an ls -l style long name
// ("-rw-r--r--    2 user group ..."): its second field.
func linkCount(long string) uint32 {
	f := strings.Fields(long)
	if len(f) < 2 || len(f[0]) != 10 {
		return 0
	}
	n, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// closeLater closes a handle without waiting for the answer: readLoop
// checks it and drops it.
func (c *Conn) closeLater(h string) {
	c.start(typeClose, appendString(nil, h))
}
