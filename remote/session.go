package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/sftpmount/sftpmount/remote/transport"
	"github.com/sftpmount/sftpmount/remote/wire"
)

// session is one SSH connection carrying one SFTP subsystem for every
// request, and possibly more for bulk data (see bulk.go), usually on a
// second connection (bulkconn.go). It dies as a whole: when a link breaks,
// a deadline passes or keepalives go unanswered, close() fails every call
// waiting on it at once.
type session struct {
	ssh *ssh.Client // nil for sessions over a stream (stream.go)
	// more opens another stream, where ssh would open another channel
	// (the wire layer's, the identifiers'); nil over SSH.
	more Stream
	conn io.Closer // closing it ends the transport under sftp
	sftp *sftp.Client
	sent *sentWatch // nil: the server may run requests out of order (ordered.go)
	// bulk are more SFTP subsystems, for file data; they start in the
	// background once the session works, so a (re)connect waits for one
	// subsystem only. A slot stays nil until its subsystem has started,
	// and for good if it could not.
	bulk     []atomic.Pointer[sftp.Client]
	bulkMu   sync.Mutex
	bulkConn func()        // closes the bulk sessions' own connection, if they have one
	dead     chan struct{} // closed when the session is unusable

	// wire speaks what pkg/sftp cannot (lsetstat@openssh.com...), on an
	// SFTP channel of its own, started at first use (wireConn).
	wireMu sync.Mutex
	wire   *wire.Conn

	// ident tells which names are one file (wire.Identifier), on a
	// channel of its own, started at the first file with links.
	identMu sync.Mutex
	ident   [IdentifyParallel]*wire.Identifier

	// alive asks the other end of the link for an answer that needs
	// nothing but the link (an SSH keepalive, which sshd answers itself)
	// and returns it; nil where there is no such question (a stream).
	alive func() error
	// probeWait is how long a probe waits for the keepalive's answer: a
	// third of -o timeout, whatever time the call that asks has left (a
	// retry with a second left would judge the link in a third of it).
	// 0: a third of that call's time (tests).
	probeWait time.Duration
	probing   atomic.Bool  // a probe is running (probe)
	answered  atomic.Int64 // when a call on the session last had its answer, in Unix nanoseconds

	closeOnce sync.Once
	why       error        // set once, before dead is closed
	lostAt    atomic.Int64 // when it was closed, in Unix nanoseconds
}

// settleTime is how long after a connection is given up a change cut off
// on it is sent again, or asked about. The old server may still run what
// it had received (sshd hands it over as it dies, sftp-server works
// through what it has read, if descheduled on a loaded machine only
// later): a write sent again at once, and a newer write over the same
// bytes, could both land before that old copy, which would then put back
// bytes the file no longer has. SFTP has no way to fence an old session,
// so this is a bound, not a proof: an old server still busy with them
// later than this (its disk stuck) can still do it. It is short, since
// every change cut off waits for it, and a link that fails again within
// it costs a round more. Our own kernel sends nothing more on a given-up
// connection (see transport's SetLinger), so only what had reached the
// server counts.
const settleTime = 300 * time.Millisecond

// settle waits until settleTime has passed since s was given up, or ctx
// ends; it reports whether time is left.
func (s *session) settle(ctx context.Context) bool {
	at := s.lostAt.Load()
	if at == 0 {
		return ctx.Err() == nil
	}
	wait := time.Until(time.Unix(0, at).Add(settleTime))
	if wait <= 0 {
		return ctx.Err() == nil
	}
	return sleepCtx(ctx, wait)
}

func (s *session) close(why error) {
	s.closeOnce.Do(func() {
		s.why = why
		s.lostAt.Store(time.Now().UnixNano())
		close(s.dead)
		// The SSH connection first: sftp.Client.Close waits for its
		// reader, which only ends when the transport does. On a silent
		// server that wait would be forever.
		s.conn.Close()
		go s.sftp.Close()
		s.wireMu.Lock()
		if s.wire != nil {
			go s.wire.Close()
		}
		s.wireMu.Unlock()
		s.identMu.Lock()
		for _, id := range s.ident {
			if id != nil {
				go id.Conn().Close()
			}
		}
		s.identMu.Unlock()
		for i := range s.bulk {
			if b := s.bulk[i].Load(); b != nil {
				go b.Close()
			}
		}
		s.bulkMu.Lock()
		if s.bulkConn != nil {
			s.bulkConn()
		}
		s.bulkMu.Unlock()
	})
}

func (s *session) isDead() bool {
	select {
	case <-s.dead:
		return true
	default:
		return false
	}
}

// dial opens a new session: through every jump host to the target, each
// with its host key checked and a login, then the SFTP subsystem. The
// whole of it is bounded by the target's ConnectTimeout, prompts excepted.
// The bulk sessions are started later, by startBulk.
func dial(ctx context.Context, cfg *Config, chain *transport.Chain) (*session, error) {
	g := transport.NewGuard(ctx, cfg.Target.ConnectTimeout)
	defer g.Done()
	clients, closeAll, err := chain.Login(g)
	if err != nil {
		return nil, err
	}
	target := clients[len(clients)-1]
	sc, watch, err := newOrderedClient(target, cfg.SFTPServer)
	if err != nil {
		closeAll()
		if g.Expired() {
			// Logged in, but sshd runs sftp-server through the login
			// shell: a shell rc that waits (a lock, a prompt) is the
			// usual cause, and the generic message would send the user
			// looking at the network.
			return nil, &StartupError{Kind: StartupConnect, Err: fmt.Errorf("start sftp subsystem on %s: no answer within %v after login (ConnectTimeout); is the remote login shell's startup file slow or waiting?", cfg.Target.Addr(), cfg.Target.ConnectTimeout)}
		}
		return nil, &StartupError{Kind: StartupConnect, Err: fmt.Errorf("start sftp subsystem on %s: %w", cfg.Target.Addr(), err)}
	}

	s := &session{ssh: target, conn: closerFunc(func() error { closeAll(); return nil }), sftp: sc, sent: watch, dead: make(chan struct{})}
	s.probeWait = probeAfter(cfg.Timeout)
	s.alive = func() error {
		_, _, err := target.SendRequest("keepalive@openssh.com", true, nil)
		return err
	}
	if cfg.Sessions > 1 {
		s.bulk = make([]atomic.Pointer[sftp.Client], cfg.Sessions-1)
	}
	s.closeWhenLost(clients)
	if cfg.Target.KeepaliveInterval > 0 {
		go s.keepalive(cfg, s.ssh)
	}
	return s, nil
}

// closeWhenLost closes the session when any of the connections under it
// ends.
func (s *session) closeWhenLost(clients []*ssh.Client) {
	for _, c := range clients {
		go func() {
			err := c.Wait()
			if err == nil {
				err = ErrConnectionLost
			}
			s.close(fmt.Errorf("%w: %v", ErrConnectionLost, err))
		}()
	}
}

var sftpOptions = []sftp.ClientOption{sftp.UseFstat(true), sftp.UseConcurrentWrites(true)}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// keepalive sends an SSH-level request on conn every interval, even when
// the mount is idle, and closes the session after CountMax unanswered in a
// row, so a silently dead link is noticed before the next kernel request
// waits on it.
func (s *session) keepalive(cfg *Config, conn *ssh.Client) {
	t := time.NewTicker(cfg.Target.KeepaliveInterval)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-s.dead:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := conn.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				s.close(fmt.Errorf("%w: keepalive: %v", ErrConnectionLost, err))
				return
			}
			misses = 0
		case <-time.After(cfg.Target.KeepaliveInterval):
			misses++
			cfg.debugf("keepalive unanswered (%d of %d)", misses, cfg.Target.KeepaliveCountMax)
			if misses >= cfg.Target.KeepaliveCountMax {
				cfg.debugf("link declared dead: %d keepalives unanswered; closing the connection", misses)
				s.close(fmt.Errorf("%w: %d keepalives unanswered", ErrConnectionLost, misses))
				return
			}
		case <-s.dead:
			return
		}
	}
}

// A link that goes silent (a router that drops everything, a proxy that
// holds what it has) is noticed by the keepalive only after
// ServerAliveInterval times ServerAliveCountMax (45 s by default), and by
// a call only at its deadline: then the call, and every other one waiting
// on the link, has no time left to reconnect and be tried again, or
// settled (settle.go), and a create or a rename fails for a link that a
// new connection would have served at once. So a call that has waited a
// third of its time asks whether the link still carries anything (probe):
// a server that is slow, busy with a large write or descheduled, still
// answers a keepalive (sshd does, not sftp-server), and the call waits on
// (slow is not dead); a link that answers nothing within another third is
// given up, and every call on it has a third of its time left to go on
// over a new connection. Nothing waits longer than its deadline either way.

// probeAfter is when, into a call with time left, it probes the link:
// left/3; the answer must come within a third of -o timeout
// (session.probeWait).
func probeAfter(left time.Duration) time.Duration { return left / 3 }

// probe asks, once at a time per session, whether the link still carries
// anything: without an answer within wait, nor any call's answer
// meanwhile (a keepalive's can queue behind megabytes of read data on a
// slow link), the session is closed as lost. A session without alive (a
// stream) is never probed.
func (s *session) probe(wait time.Duration) {
	if s.alive == nil || !s.probing.CompareAndSwap(false, true) {
		return
	}
	asked := time.Now().UnixNano()
	go func() {
		defer s.probing.Store(false)
		answered := make(chan error, 1)
		go func() { answered <- s.alive() }() // returns once the session is closed, at the latest
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case err := <-answered:
			if err != nil {
				s.close(fmt.Errorf("%w: keepalive: %v", ErrConnectionLost, err))
			}
		case <-t.C:
			if s.answered.Load() > asked {
				return // slow, not silent
			}
			s.close(fmt.Errorf("%w: the link is silent: a call waited for an answer, and a keepalive had none within %v", ErrConnectionLost, wait))
		case <-s.dead:
		}
	}()
}

// wireConn returns the session's wire.Conn, starting it on a new SFTP
// channel (the server's subsystem, or the -o sftp_server command) at first
// use, within ctx. A session over a pipe (tests) has none.
func (s *session) wireConn(ctx context.Context, server string) (*wire.Conn, error) {
	s.wireMu.Lock()
	defer s.wireMu.Unlock()
	if s.wire != nil && s.wire.Err() == nil {
		return s.wire, nil
	}
	c, err := s.newWire(ctx, server)
	if err == nil {
		s.wire = c
	}
	return c, err
}

// identifier returns the session's wire.Identifier in slot (of
// IdentifyParallel), each on a channel of its own started at first use,
// within ctx. A slot past the first whose channel cannot be had (the
// server's MaxSessions) gives the first.
func (s *session) identifier(ctx context.Context, server string, slot int) (*wire.Identifier, error) {
	s.identMu.Lock()
	defer s.identMu.Unlock()
	if id := s.ident[slot]; id != nil && id.Conn().Err() == nil {
		return id, nil
	}
	c, err := s.newWire(ctx, server)
	if err != nil {
		if id := s.ident[0]; slot > 0 && id != nil && id.Conn().Err() == nil && !errors.Is(err, ErrTimeout) {
			return id, nil
		}
		return nil, err
	}
	s.ident[slot] = wire.NewIdentifier(c)
	return s.ident[slot], nil
}

// newWire starts a wire.Conn on a new SFTP channel within ctx.
func (s *session) newWire(ctx context.Context, server string) (*wire.Conn, error) {
	if s.ssh == nil && s.more == nil {
		return nil, errors.New("no SSH connection to start an SFTP channel on")
	}
	type started struct {
		c   *wire.Conn
		err error
	}
	done := make(chan started, 1)
	go func() {
		if s.ssh == nil {
			rw, err := s.more(ctx)
			if err != nil {
				done <- started{nil, err}
				return
			}
			c, err := wire.Start(rw, rw)
			if err != nil {
				rw.Close()
			}
			done <- started{c, err}
			return
		}
		in, stdout, ch, err := sftpChannel(s.ssh, server)
		if err != nil {
			done <- started{nil, err}
			return
		}
		c, err := wire.Start(stdout, in)
		if err != nil {
			ch.Close()
		}
		done <- started{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, r.err
		}
		if s.isDead() {
			r.c.Close()
		}
		return r.c, nil
	case <-ctx.Done():
		go func() { // closes the channel once it is known
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ErrTimeout
	}
}
