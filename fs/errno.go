package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote"
)

// The one table from remote errors to errno. go-fuse's own fs.ToErrno is
// never used on a remote error: it compares with == and turns anything it
// does not know (a wrapped error, an *sftp.StatusError) into ENOSYS, which
// makes the kernel stop sending that operation for the rest of the mount.

// SFTP status codes. Codes past 8 are from later protocol drafts; OpenSSH
// speaks v3 and never sends them, but other servers do.
const (
	fxEOF              = 1
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxNoConnection     = 6
	fxConnectionLost   = 7
	fxOpUnsupported    = 8
	fxInvalidHandle    = 9
	fxNoSuchPath       = 10
	fxFileExists       = 11
	fxWriteProtect     = 12
	fxNoMedia          = 13
	fxNoSpace          = 14
	fxQuotaExceeded    = 15
	fxLockConflict     = 17
	fxDirNotEmpty      = 18
	fxNotADirectory    = 19
	fxInvalidFilename  = 20
	fxLinkLoop         = 21
	fxCannotDelete     = 22
	fxInvalidParameter = 23
	fxFileIsADirectory = 24
)

var statusErrno = map[uint32]syscall.Errno{
	fxEOF:              syscall.EIO, // EOF where an answer was due
	fxNoSuchFile:       syscall.ENOENT,
	fxPermissionDenied: syscall.EACCES,
	fxFailure:          syscall.EIO, // ambiguous: see explain
	fxBadMessage:       syscall.EINVAL,
	fxNoConnection:     syscall.ENOTCONN,
	fxConnectionLost:   syscall.EIO,
	fxOpUnsupported:    syscall.ENOTSUP,
	fxInvalidHandle:    syscall.EBADF,
	fxNoSuchPath:       syscall.ENOENT,
	fxFileExists:       syscall.EEXIST,
	fxWriteProtect:     syscall.EROFS,
	fxNoMedia:          syscall.ENODEV,
	fxNoSpace:          syscall.ENOSPC,
	fxQuotaExceeded:    syscall.EDQUOT,
	fxLockConflict:     syscall.EAGAIN,
	fxDirNotEmpty:      syscall.ENOTEMPTY,
	fxNotADirectory:    syscall.ENOTDIR,
	fxInvalidFilename:  syscall.EINVAL,
	fxLinkLoop:         syscall.ELOOP,
	fxCannotDelete:     syscall.EPERM,
	fxInvalidParameter: syscall.EINVAL,
	fxFileIsADirectory: syscall.EISDIR,
}

// pkg/sftp returns some codes as bare values of its unexported fxerr type.
var bareStatus = []struct {
	err  error
	code uint32
}{
	{sftp.ErrSSHFxEOF, fxEOF},
	{sftp.ErrSSHFxNoSuchFile, fxNoSuchFile},
	{sftp.ErrSSHFxPermissionDenied, fxPermissionDenied},
	{sftp.ErrSSHFxFailure, fxFailure},
	{sftp.ErrSSHFxBadMessage, fxBadMessage},
	{sftp.ErrSSHFxNoConnection, fxNoConnection},
	{sftp.ErrSSHFxConnectionLost, fxConnectionLost},
	{sftp.ErrSSHFxOpUnsupported, fxOpUnsupported},
}

// statusCode extracts the SFTP status code carried by err, if any.
func statusCode(err error) (uint32, bool) {
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return se.Code, true
	}
	for _, b := range bareStatus {
		if errors.Is(err, b.err) {
			return b.code, true
		}
	}
	return 0, false
}

// errnoOf maps a remote error to the errno a local disk would give. It
// returns EIO for the ambiguous SSH_FX_FAILURE; isFailure tells callers
// that can find the real cause with a follow-up request.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, remote.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.Is(err, remote.ErrNotConnected):
		return syscall.ENOTCONN
	case errors.Is(err, remote.ErrStale):
		return syscall.ESTALE
	case errors.Is(err, remote.ErrUnsettled):
		return syscall.EIO // another client changed the name: the -d log says how
	case errors.Is(err, remote.ErrConnectionLost):
		return syscall.EIO
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, os.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, os.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.ErrShortWrite):
		return syscall.EIO
	}
	if code, ok := statusCode(err); ok {
		if e, ok := statusErrno[code]; ok {
			return e
		}
	}
	return syscall.EIO
}

// isFailure reports whether err is the catch-all SSH_FX_FAILURE, which
// OpenSSH's sftp-server sends for EEXIST, ENOTEMPTY, EISDIR, ENOTDIR,
// EXDEV and ENOSPC alike.
func isFailure(err error) bool {
	code, ok := statusCode(err)
	return ok && code == fxFailure
}

// errOf is errno as an error: nil for 0.
func errOf(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}
