// Package wire speaks the SFTP version 3 requests that pkg/sftp v1.13
// cannot send: OpenSSH's extensions (lsetstat@openssh.com,
// limits@openssh.com, copy-data), pipelined directory reads with each
// name's link count, MKDIR and LSTAT in one round trip, and, on a Conn
// of its own, which names a Linux server holds as one file (Identifier).
// It owns the framing (length, type, request id), the matching of replies
// to requests, and the checks a hostile server's replies must pass: a
// packet shorter than its header, longer than the negotiated maximum, of a
// type the request cannot get, or for an id nobody asked, ends the
// connection with a ProtocolError rather than being trusted.
//
// A Conn runs on an SFTP subsystem channel of its own; pkg/sftp keeps
// every other request (remote's File, ReadDir, Stat...). Deadlines are the
// caller's ctx: a call whose ctx ends returns at once, its reply, if it
// ever comes, is dropped. Reconnecting is the caller's too: a Conn whose
// stream broke stays broken (Err).
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
	typeLstat         = 7
	typeMkdir         = 14
	typeStatus        = 101
	typeHandle        = 102
	typeAttrs         = 105
	typeExtended      = 200
	typeExtendedReply = 201
)

// MaxPacket bounds a reply's length before limits@openssh.com says more:
// OpenSSH's sftp-server sends at most 256 KiB of data plus the header.
const MaxPacket = 256*1024 + 1024

// ProtocolError is a reply no SFTP server may send; the Conn is closed.
type ProtocolError struct{ Why string }

func (e *ProtocolError) Error() string { return "sftp protocol error: " + e.Why }

// StatusError is an SSH_FXP_STATUS reply other than OK.
type StatusError struct {
	Code uint32
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("sftp status %d: %s", e.Code, e.Msg) }

// Status codes this package's callers look at.
const (
	StatusOK          = 0
	StatusEOF         = 1
	StatusNoSuchFile  = 2
	StatusPermission  = 3
	StatusFailure     = 4
	StatusUnsupported = 8
)

// ErrClosed is the error of every call once the Conn's stream has ended.
var ErrClosed = errors.New("sftp wire connection closed")

type reply struct {
	typ  byte
	body []byte // after the id
}

// Conn is one SFTP session spoken to directly.
type Conn struct {
	w   io.WriteCloser
	wmu sync.Mutex // one packet at a time

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex // guards next, pending, err
	next    uint32
	pending map[uint32]chan reply
	err     error
	done    chan struct{}

	// Extensions the server named in its VERSION reply, with their data.
	Extensions map[string]string
}

// Start sends SSH_FXP_INIT on w and reads the server's VERSION from r.
// The caller bounds it: closing w and r ends a silent server's wait.
func Start(r io.Reader, w io.WriteCloser) (*Conn, error) {
	c := &Conn{w: w, pending: map[uint32]chan reply{}, done: make(chan struct{}), Extensions: map[string]string{}}
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
	for id, ch := range c.pending {
		delete(c.pending, id)
		close(ch)
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
		ch, ok := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if !ok {
			// Asked by a call that gave up, or never asked: a reply
			// to an id no call holds is dropped only if the id was
			// ever handed out.
			if id >= c.nextID() {
				c.fail(&ProtocolError{fmt.Sprintf("reply for request %d, which was never sent", id)})
				c.closeWriter()
				return
			}
			continue
		}
		ch <- reply{typ: typ, body: body[4:]}
	}
}

func (c *Conn) nextID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
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
	id uint32
	ch chan reply
}

// start sends a request and returns at once: requests started one after
// another from one goroutine reach the server in that order.
func (c *Conn) start(typ byte, body []byte) (asked, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return asked{}, err
	}
	id := c.next
	c.next++
	c.pending[id] = ch
	c.mu.Unlock()
	pkt := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), id)
	if err := c.send(typ, append(pkt, body...)); err != nil {
		c.fail(err)
		return asked{}, err
	}
	return asked{c, id, ch}, nil
}

// wait returns the request's reply, or gives up when ctx ends.
func (p asked) wait(ctx context.Context) (reply, error) {
	select {
	case r, ok := <-p.ch:
		if !ok {
			return reply{}, p.c.Err()
		}
		return r, nil
	case <-ctx.Done():
		p.c.mu.Lock()
		delete(p.c.pending, p.id)
		p.c.mu.Unlock()
		return reply{}, ctx.Err()
	}
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
func readPacket(r io.Reader, max uint32) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 1 {
		return 0, nil, &ProtocolError{"packet of length 0"}
	}
	if n > max {
		return 0, nil, &ProtocolError{fmt.Sprintf("packet of %d bytes, more than %d", n, max)}
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
