package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Commands run on the server beside SFTP (the change feed, bulk
// listings) go through here, and nowhere else: one place to check
// -o remote_commands, and one way to end them. Over SSH a command runs in
// an exec channel of the session's own connection, so it dies with that
// connection; over ssh_command, the mount's Config.Exec runs the command
// the user gave with the remote command in place of the sftp subsystem.
// Over directport and passive there is no way to run anything.

// Exec runs command on the server with its stdin and stdout as the
// stream returned; Close ends its stdin (the command should end when it
// sees EOF) and then the channel or process.
type Exec func(ctx context.Context, command string) (io.ReadWriteCloser, error)

// ErrNoCommands is returned when no command can be run on the server:
// -o remote_commands=no, or a transport that has no way to.
var ErrNoCommands = errors.New("no commands can be run on the server")

// RunsCommands reports whether commands may be run at all (not -o
// remote_commands=no); a server may still refuse them.
func (c *Client) RunsCommands() bool { return c.cfg.RemoteCommands }

// RunCommand runs command on the server (see Exec). It fails with
// ErrNoCommands when commands are off or the transport cannot run them,
// and with the server's refusal when it will not (ForceCommand
// internal-sftp refuses every exec but the sftp subsystem by ending the
// channel at once, which the caller sees as EOF).
func (c *Client) RunCommand(ctx context.Context, command string) (io.ReadWriteCloser, error) {
	if !c.cfg.RemoteCommands {
		return nil, fmt.Errorf("%w: -o remote_commands=no", ErrNoCommands)
	}
	if c.cfg.Exec != nil {
		return c.cfg.Exec(ctx, command)
	}
	s, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	if s.ssh == nil {
		return nil, fmt.Errorf("%w over this transport", ErrNoCommands)
	}
	type result struct {
		rw  io.ReadWriteCloser
		err error
	}
	done := make(chan result, 1)
	go func() {
		rw, err := sshExec(s.ssh, command)
		done <- result{rw, err}
	}()
	select {
	case r := <-done:
		return r.rw, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.rw != nil {
				r.rw.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// sshExec opens a session channel on conn and starts command in it.
func sshExec(conn *ssh.Client, command string) (io.ReadWriteCloser, error) {
	sess, err := conn.NewSession()
	if err != nil {
		return nil, fmt.Errorf("exec channel: %w", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		sess.Close()
		return nil, err
	}
	if err := sess.Start(command); err != nil {
		sess.Close()
		return nil, fmt.Errorf("exec refused: %w", err)
	}
	return &execStream{sess: sess, stdin: stdin, stdout: stdout}, nil
}

// execStream is a command running in an SSH exec channel.
type execStream struct {
	sess   *ssh.Session
	stdin  io.WriteCloser
	stdout io.Reader
	once   sync.Once
}

func (e *execStream) Read(b []byte) (int, error)  { return e.stdout.Read(b) }
func (e *execStream) Write(b []byte) (int, error) { return e.stdin.Write(b) }

// Close sends EOF on the command's stdin, then closes the channel: sshd
// then closes the command's pipes, and a command that missed the EOF
// gets SIGPIPE at its next write.
func (e *execStream) Close() error {
	e.once.Do(func() {
		e.stdin.Close()
		e.sess.Close()
	})
	return nil
}
