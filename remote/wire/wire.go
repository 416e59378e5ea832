package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Packet types (draft-ietf-secsh-filexfer-02, OpenSSH's PROTOCOL).
const (
	typeInit          = 1
	typeVersion       = 2
	typeOpen          = 3
	typeClose         = 4
	typeRead          = 5
	typeLstat         = 7
	typeOpendir       = 11
	typeReaddir       = 12
	typeMkdir         = 14
	typeRealpath      = 16
	typeReadlink      = 19
	typeStatus        = 101
	typeHandle        = 102
	typeData          = 103
	typeName          = 104
	typeAttrs         = 105
	typeExtended      = 200
	typeExtendedReply = 201
)

// answers is, for each request this package sends, the one reply type it
// may get besides STATUS (STATUS itself for those that get nothing else).
// readLoop checks every reply against it: the one place a reply's type is
// checked.
var answers = map[byte]byte{
	typeOpen:     typeHandle,
	typeOpendir:  typeHandle,
	typeClose:    typeStatus,
	typeMkdir:    typeStatus,
	typeRead:     typeData,
	typeLstat:    typeAttrs,
	typeReaddir:  typeName,
	typeRealpath: typeName,
	typeReadlink: typeName,
	typeExtended: typeExtendedReply,
}

// typeNames name reply types in errors.
var typeNames = map[byte]string{
	typeStatus: "STATUS", typeHandle: "HANDLE", typeData: "DATA", typeName: "NAME",
	typeAttrs: "ATTRS", typeExtendedReply: "EXTENDED_REPLY",
}

// MaxPacket bounds a reply's length before limits@openssh.com says more:
// OpenSSH's sftp-server sends at most 256 KiB of data plus the header.
const MaxPacket = 256*1024 + 1024

// ProtocolError is a reply no SFTP server may send; the Conn is closed.
type ProtocolError struct{ Why string }

func (e *ProtocolError) Error() string { return "sftp protocol error: " + e.Why }

// ErrClosed is the error of every call once the Conn's stream has ended.
var ErrClosed = errors.New("sftp wire connection closed")

type reply struct {
	typ  byte
	want byte   // the type its request gets besides STATUS (answers)
	body []byte // after the id
}

// awaited is a request sent and not yet answered, as readLoop holds it.
type awaited struct {
	ch   chan reply // buffered: readLoop never waits for the caller
	want byte       // answers[its type]
}

// Conn is one SFTP session spoken to directly.
type Conn struct {
	w   io.WriteCloser
	wmu sync.Mutex // one packet at a time

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex // guards next, pending, err
	next    uint32
	pending map[uint32]awaited
	err     error
	done    chan struct{}

	// Extensions the server named in its VERSION reply, with their data.
	Extensions map[string]string
}

// Start sends SSH_FXP_INIT on w and reads the server's VERSION from r.
// The caller bounds it: closing w and r ends a silent server's wait.
func Start(r io.Reader, w io.WriteCloser) (*Conn, error) {
	c := &Conn{w: w, pending: map[uint32]awaited{}, done: make(chan struct{}), Extensions: map[string]string{}}
	if err := c.send(typeInit, []byte{0, 0, 0, 3}); err != nil {
		return nil, err
	}
	typ, body, err := readPacket(r, MaxPacket)
	if err != nil {
		return nil, err
	}
	if typ != typeVersion {
		return nil, &ProtocolError{fmt.Sprintf("first packet has type %d, want VERSION", typ)}
	}
	d := decoder{b: body}
	if v := d.uint32(); d.err == nil && v != 3 {
		return nil, &ProtocolError{fmt.Sprintf("server speaks SFTP version %d, want 3", v)}
	}
	for len(d.b) > 0 && d.err == nil {
		name, data := d.string(), d.string()
		c.Extensions[name] = data
	}
	if d.err != nil {
		return nil, d.err
	}
	go c.readLoop(r)
	return c, nil
}

// Has reports whether the server offers extension name.
func (c *Conn) Has(name string) bool {
	_, ok := c.Extensions[name]
	return ok
}

// Close ends the Conn; calls in flight fail with ErrClosed.
func (c *Conn) Close() error {
	err := c.closeWriter()
	c.fail(ErrClosed)
	return err
}

// closeWriter closes the channel's input once: x/crypto's ssh channel
// does not guard a close from two goroutines (Close and the read loop's).
func (c *Conn) closeWriter() error {
	c.closeOnce.Do(func() { c.closeErr = c.w.Close() })
	return c.closeErr
}

// Err is why the Conn ended, or nil while it works.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	for id, a := range c.pending {
		delete(c.pending, id)
		close(a.ch)
	}
}

func (c *Conn) readLoop(r io.Reader) {
	for {
		typ, body, err := readPacket(r, MaxPacket)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrClosed
			}
			c.fail(err)
			c.closeWriter()
			return
		}
		if len(body) < 4 {
			c.fail(&ProtocolError{fmt.Sprintf("reply of type %d without a request id", typ)})
			c.closeWriter()
			return
		}
		id := binary.BigEndian.Uint32(body)
		c.mu.Lock()
		a, ok := c.pending[id]
		delete(c.pending, id)
		next := c.next
		c.mu.Unlock()
		switch {
		case !ok && id < next:
			// A request whose reply was taken already: a second one.
			c.fail(&ProtocolError{fmt.Sprintf("a second reply for request %d", id)})
		case !ok:
			c.fail(&ProtocolError{fmt.Sprintf("reply for request %d, which was never sent", id)})
		case typ != typeStatus && typ != a.want:
			c.fail(&ProtocolError{fmt.Sprintf("reply of type %d, want STATUS or %s", typ, typeNames[a.want])})
			close(a.ch) // its caller gets the Conn's error, as every other's
		default:
			// Taken, or left in its buffer by a caller that gave up
			// or never waits (a handle's close).
			a.ch <- reply{typ: typ, want: a.want, body: body[4:]}
			continue
		}
		c.closeWriter()
		return
	}
}

// call sends a request of type typ with body after its id and waits for
// the reply, or ctx's end.
func (c *Conn) call(ctx context.Context, typ byte, body []byte) (reply, error) {
	p, err := c.start(typ, body)
	if err != nil {
		return reply{}, err
	}
	return p.wait(ctx)
}

// asked is a request sent and not yet answered.
type asked struct {
	c  *Conn
	ch chan reply
}

// start sends a request and returns at once: requests started one after
// another from one goroutine reach the server in that order. Its reply
// need not be waited for: it is checked and dropped all the same.
func (c *Conn) start(typ byte, body []byte) (asked, error) {
	want, ok := answers[typ]
	if !ok {
		panic(fmt.Sprintf("wire: request type %d has no entry in answers", typ))
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return asked{}, err
	}
	id := c.next
	c.next++
	c.pending[id] = awaited{ch, want}
	c.mu.Unlock()
	pkt := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), id)
	if err := c.send(typ, append(pkt, body...)); err != nil {
		c.fail(err)
		return asked{}, err
	}
	return asked{c, ch}, nil
}

// wait returns the request's reply, of the request's own type or STATUS
// (readLoop checked), or gives up when ctx ends; a reply that comes after
// is checked and dropped.
func (p asked) wait(ctx context.Context) (reply, error) {
	select {
	case r, ok := <-p.ch:
		if !ok {
			return reply{}, p.c.Err()
		}
		return r, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// answer is what a request of a type that gets more than STATUS (a
// HANDLE, ATTRS...) was answered: the body of that reply, or the
// STATUS's error. A STATUS OK in its place is a ProtocolError.
func (p asked) answer(ctx context.Context) ([]byte, error) {
	r, err := p.wait(ctx)
	if err != nil {
		return nil, err
	}
	if r.typ != typeStatus {
		return r.body, nil
	}
	if err := status(r); err != nil {
		return nil, err
	}
	return nil, &ProtocolError{"STATUS OK where " + typeNames[r.want] + " was due"}
}

func (c *Conn) send(typ byte, body []byte) error {
	pkt := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(pkt, uint32(1+len(body)))
	pkt[4] = typ
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.w.Write(append(pkt, body...))
	return err
}

// readPacket reads one packet: its type and what follows the type.
func readPacket(r io.Reader, limit uint32) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 {
		return 0, nil, &ProtocolError{"packet of length 0"}
	}
	if n > limit {
		return 0, nil, &ProtocolError{fmt.Sprintf("packet of %d bytes, more than %d", n, limit)}
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return buf[0], buf[1:], nil
}

// status turns a STATUS reply into nil (OK) or a StatusError, and any
// other type into a ProtocolError.
func status(r reply) error {
	if r.typ != typeStatus {
		return &ProtocolError{fmt.Sprintf("reply of type %d, want STATUS", r.typ)}
	}
	d := decoder{b: r.body}
	code := d.uint32()
	msg := d.string() // SFTP v3 servers send a message; a missing one is tolerated
	if d.err != nil && code == 0 && len(r.body) < 4 {
		return d.err
	}
	if code == StatusOK {
		return nil
	}
	return &StatusError{Code: code, Msg: msg}
}
