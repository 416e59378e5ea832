package remote

import (
	"errors"
	"fmt"

	"github.com/sftpmount/sftpmount/remote/transport"
)

// ErrTimeout means a remote call did not answer within its deadline. The
// connection it ran on has been closed, since a server that stops answering
// one request has usually stopped answering all of them.
var ErrTimeout = errors.New("remote call timed out")

// ErrConnectionLost means the SSH connection broke while the call ran or
// before it could start.
var ErrConnectionLost = errors.New("connection to server lost")

// ErrAbandoned means a call cut off by a lost connection did not return
// once the connection was closed: it is not tried again, since it may
// still write into its caller's memory (see outlive).
var ErrAbandoned = errors.New("call cut off by a lost connection did not end")

// ErrNotConnected means the connection was lost and reconnecting is off
// (-o reconnect=no): the mount has given up.
var ErrNotConnected = errors.New("not connected to the server (reconnect is off)")

// ErrStale means an open file could not be found again after a lost
// connection: it was removed, or its size or modification time on the
// server differ from what this handle last knew, so the path may now name
// another file. The handle fails rather than read or write that file.
var ErrStale = errors.New("file changed on the server while the connection was down")

// OpError is the one wrapping every remote failure gets: which operation,
// on which remote path, and the underlying error (an *sftp.StatusError,
// os.ErrNotExist, ErrTimeout...). fs/ maps it to an errno with errors.Is/As.
type OpError struct {
	Op   string
	Path string
	Err  error
}

func (e *OpError) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err) }
func (e *OpError) Unwrap() error { return e.Err }

// StartupError and its kinds are the transport's (see package transport);
// the SFTP start and the directory to serve use them too.
type (
	StartupError = transport.StartupError
	StartupKind  = transport.StartupKind
)

const (
	StartupConnect   = transport.StartupConnect
	StartupHostKey   = transport.StartupHostKey
	StartupAuth      = transport.StartupAuth
	StartupRemoteDir = transport.StartupRemoteDir
	StartupConfig    = transport.StartupConfig
)

// Prompter asks the person starting the mount (package transport).
type Prompter = transport.Prompter

// ErrUnsettled means a change cut off by a lost connection could not be
// told done or not done from the server's state on the new connection:
// another client changed the same name meanwhile (see settle.go). The
// OpError around it says what was found.
var ErrUnsettled = errors.New("cut off by a lost connection, and the server's state cannot tell whether it took effect")
