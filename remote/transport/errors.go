package transport

import (
	"errors"
	"net"
	"os"
)

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

// UnwrapPathError strips pkg/sftp's *os.PathError, whose path we already
// carry, so the error is wrapped exactly once.
func UnwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
