package remote

import (
	"context"
	"fmt"
	"io"

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
// No bulk sessions, no SSH keepalive. cfg.Target may be nil; then its
// ConnectTimeout is cfg.Timeout.
func ConnectStream(ctx context.Context, cfg Config, open Stream) (*Client, error) {
	if cfg.Debug == nil {
		cfg.Debug = discardLogger
	}
	if cfg.Target == nil {
		cfg.Target = &sshconf.Endpoint{ConnectTimeout: cfg.Timeout}
	}
	c := &Client{cfg: cfg}
	c.dialFn = func(ctx context.Context) (*session, error) { return streamSession(ctx, open) }
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
			return nil, fmt.Errorf("start sftp on the stream: %w", r.err)
		}
		return &session{conn: rw, sftp: r.sc, more: open, dead: make(chan struct{})}, nil
	case <-ctx.Done():
		rw.Close() // ends the hello's wait
		<-done
		return nil, fmt.Errorf("start sftp on the stream: %w", ErrTimeout)
	}
}
