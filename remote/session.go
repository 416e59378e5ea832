package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// session is one SSH connection carrying one SFTP subsystem. It dies as a
// whole: when the link breaks, a deadline passes or keepalives go
// unanswered, close() fails every call waiting on it at once.
type session struct {
	ssh  *ssh.Client // nil for sessions over a pipe (tests)
	conn io.Closer   // closing it ends the transport under sftp
	sftp *sftp.Client
	dead chan struct{} // closed when the session is unusable

	closeOnce sync.Once
	why       error // set once, before dead is closed
}

func (s *session) close(why error) {
	s.closeOnce.Do(func() {
		s.why = why
		close(s.dead)
		// The SSH connection first: sftp.Client.Close waits for its
		// reader, which only ends when the transport does. On a silent
		// server that wait would be forever.
		s.conn.Close()
		go s.sftp.Close()
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

// dial opens a new session: TCP, SSH handshake with host-key check,
// authentication, SFTP subsystem. The whole of it is bounded by ctx.
func dial(ctx context.Context, cfg *Config, hk *hostKeyChecker) (*session, error) {
	addr := joinHostPort(cfg.Host, cfg.Port)
	auth, closeAgent, err := authMethods(cfg)
	if err != nil {
		return nil, err
	}
	defer closeAgent()

	d := net.Dialer{}
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &StartupError{Kind: StartupConnect, Err: fmt.Errorf("connect to %s: %w", addr, unwrapNetError(err))}
	}
	// The SSH handshake has no context; a deadline on the socket bounds it.
	if dl, ok := ctx.Deadline(); ok {
		tcp.SetDeadline(dl)
	}

	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithmsFor(addr, tcp.RemoteAddr()),
	}
	conn, chans, reqs, err := ssh.NewClientConn(tcp, addr, clientCfg)
	if err != nil {
		tcp.Close()
		return nil, classifyHandshakeError(addr, cfg.User, err)
	}
	client := ssh.NewClient(conn, chans, reqs)
	sc, err := sftp.NewClient(client, sftp.UseFstat(true), sftp.UseConcurrentWrites(true))
	if err != nil {
		client.Close()
		return nil, &StartupError{Kind: StartupConnect, Err: fmt.Errorf("start sftp subsystem on %s: %w", addr, err)}
	}
	tcp.SetDeadline(time.Time{})

	s := &session{ssh: client, conn: client, sftp: sc, dead: make(chan struct{})}
	go func() {
		err := client.Wait()
		if err == nil {
			err = ErrConnectionLost
		}
		s.close(fmt.Errorf("%w: %v", ErrConnectionLost, err))
	}()
	if cfg.KeepaliveInterval > 0 {
		go s.keepalive(cfg)
	}
	cfg.debugf("connected to %s as %s", addr, cfg.User)
	return s, nil
}

// keepalive sends an SSH-level request every interval, even when the mount
// is idle, and closes the session after CountMax unanswered in a row, so a
// silently dead link is noticed before the next kernel request waits on it.
func (s *session) keepalive(cfg *Config) {
	t := time.NewTicker(cfg.KeepaliveInterval)
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
			_, _, err := s.ssh.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				s.close(fmt.Errorf("%w: keepalive: %v", ErrConnectionLost, err))
				return
			}
			misses = 0
		case <-time.After(cfg.KeepaliveInterval):
			misses++
			cfg.debugf("keepalive unanswered (%d of %d)", misses, cfg.KeepaliveCountMax)
			if misses >= cfg.KeepaliveCountMax {
				cfg.debugf("link declared dead: %d keepalives unanswered; closing the connection", misses)
				s.close(fmt.Errorf("%w: %d keepalives unanswered", ErrConnectionLost, misses))
				return
			}
		case <-s.dead:
			return
		}
	}
}

func classifyHandshakeError(addr, user string, err error) error {
	var hkErr *HostKeyError
	if errors.As(err, &hkErr) {
		return &StartupError{Kind: StartupHostKey, Err: hkErr}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return &StartupError{Kind: StartupAuth, Err: fmt.Errorf("authentication as %s on %s failed: no key from the agent or identity files was accepted", user, addr)}
	case strings.Contains(msg, "checking host key") || strings.Contains(msg, "host key"):
		return &StartupError{Kind: StartupHostKey, Err: errors.New(strings.TrimPrefix(msg, "ssh: handshake failed: "))}
	}
	return &StartupError{Kind: StartupConnect, Err: fmt.Errorf("ssh handshake with %s: %w", addr, unwrapNetError(err))}
}

// unwrapNetError drops the "dial tcp 1.2.3.4:22:" prefix net adds, since the
// caller's message already names the address.
func unwrapNetError(err error) error {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return errors.New(dns.Err)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
