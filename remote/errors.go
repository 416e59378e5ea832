package remote

import (
	"errors"
	"fmt"
)

// ErrTimeout means a remote call did not answer within its deadline. The
// connection it ran on has been closed, since a server that stops answering
// one request has usually stopped answering all of them.
var ErrTimeout = errors.New("remote call timed out")

// ErrConnectionLost means the SSH connection broke while the call ran or
// before it could start.
var ErrConnectionLost = errors.New("connection to server lost")

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

// StartupError is a failure to establish the first connection, classified so
// the command can pick an exit code and print one line.
type StartupError struct {
	Kind StartupKind
	Err  error
}

// StartupKind classifies why a mount could not start.
type StartupKind int

const (
	StartupConnect   StartupKind = iota + 1 // TCP dial or SSH handshake failed
	StartupHostKey                          // host key unknown, changed or unverifiable
	StartupAuth                             // no authentication method was accepted
	StartupRemoteDir                        // the directory to serve is missing or not a directory
	StartupConfig                           // local configuration is wrong (unreadable key file...)
)

func (e *StartupError) Error() string { return e.Err.Error() }
func (e *StartupError) Unwrap() error { return e.Err }
