package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// Stream opens a byte stream that carries SFTP: a pipe to an in-process
// server, a socket, a command's stdin and stdout. It is called for the
// first session and again for every reconnect.
type Stream func(ctx context.Context) (io.ReadWriteCloser, error)

// ConnectStream is Connect over streams that need no SSH: the session
// is an SFTP client on one stream, and where SSH would open another
// channel (the wire layer's, the identifiers') open gives another stream.
// No bulk sessions (max_conns has no effect: one SFTP session carries
// every call), no SSH keepalive: an SFTP request is the keepalive, every
// Target.KeepaliveInterval, the link dead after KeepaliveCountMax
// unanswered. Each open after the first is bounded by the target's
// ConnectTimeout; the first only by ctx, since a command may be asking
// its user (ssh's prompts) and bounds its own connecting. cfg.Target may
// be nil; then its ConnectTimeout is cfg.Timeout.
func ConnectStream(ctx context.Context, cfg Config, open Stream) (*Client, error) {
	if cfg.Debug == nil {
		cfg.Debug = discardLogger
	}
	if cfg.Target == nil {
		cfg.Target = &sshconf.Endpoint{ConnectTimeout: cfg.Timeout}
	}
	c := &Client{cfg: cfg}
	first := true
	c.dialFn = func(ctx context.Context) (*session, error) {
		if !first && c.cfg.Target.ConnectTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.cfg.Target.ConnectTimeout)
			defer cancel()
		}
		first = false
		s, err := streamSession(ctx, open)
		if err == nil && c.cfg.Target.KeepaliveInterval > 0 {
			go s.streamKeepalive(&c.cfg)
		}
		return s, err
	}
	s, err := c.dialFn(ctx)
	if err != nil {
		return nil, &StartupError{Kind: StartupConnect, Err: err}
	}
	c.cur = s
	if err := c.serve(s); err != nil {
		return nil, err
	}
	return c, nil
}

// streamSession starts the SFTP client on a stream open gives, within ctx.
func streamSession(ctx context.Context, open Stream) (*session, error) {
	rw, err := open(ctx)
	if err != nil {
		return nil, err
	}
	type started struct {
		sc  *sftp.Client
		err error
	}
	done := make(chan started, 1)
	go func() {
		sc, err := sftp.NewClientPipe(rw, rw, sftpOptions...)
		done <- started{sc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			rw.Close()
			return nil, fmt.Errorf("no SFTP answer on the stream (%w)%s", r.err, howEnded(rw))
		}
		return &session{conn: rw, sftp: r.sc, more: open, dead: make(chan struct{})}, nil
	case <-ctx.Done():
		rw.Close() // ends the hello's wait
		<-done
		return nil, fmt.Errorf("no SFTP answer on the stream within the connect timeout: %w", ErrTimeout)
	}
}

// howEnded tells, for a stream that is a command (ssh_command), how the
// command ended, if it did by itself: the reason its SFTP failed.
func howEnded(rw io.ReadWriteCloser) string {
	if cmd, ok := rw.(interface{ Ended() (string, bool) }); ok {
		if how, ended := cmd.Ended(); ended {
			return "; the command " + how
		}
	}
	return ""
}

// streamKeepalive is keepalive (session.go) for a session over a stream,
// where no SSH of ours can be asked: an SFTP request (sftpPing) every
// KeepaliveInterval, even when the mount is idle; the session is closed
// after KeepaliveCountMax unanswered in a row, or at once when the stream
// fails, and the next call reconnects. It is a loop of its own, not
// session.keepalive with another ping, so that the SSH path stays as it
// is.
func (s *session) streamKeepalive(cfg *Config) {
	every := cfg.Target.KeepaliveInterval
	t := time.NewTicker(every)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-s.dead:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() { answered <- sftpPing(s.sftp) }()
		select {
		case err := <-answered:
			if err != nil {
				s.close(fmt.Errorf("%w: SFTP keepalive: %v", ErrConnectionLost, err))
				return
			}
			misses = 0
		case <-time.After(every):
			misses++
			cfg.debugf("SFTP keepalive unanswered (%d of %d)", misses, cfg.Target.KeepaliveCountMax)
			if misses >= cfg.Target.KeepaliveCountMax {
				cfg.debugf("stream declared dead: %d SFTP keepalives unanswered; closing it", misses)
				s.close(fmt.Errorf("%w: %d SFTP keepalives unanswered", ErrConnectionLost, misses))
				return
			}
		case <-s.dead:
			return
		}
	}
}

// sftpPing is a stream session's keepalive: a stat of "/", the cheapest
// request every server answers. Any answer, an SFTP error status
// included, shows the link alive; only a failed transport is an error.
func sftpPing(sc *sftp.Client) error {
	_, err := sc.Stat("/")
	var status *sftp.StatusError
	if err == nil || errors.As(err, &status) || !brokenTransport(err) {
		return nil
	}
	return err
}
