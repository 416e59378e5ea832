package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/sftpmount/sftpmount/remote"
)

// The one table from remote errors to errno. go-fuse's own fs.ToErrno is
// never used on a remote error: it compares with == and turns anything it
// does not know (a wrapped error, an *sftp.StatusError) into ENOSYS, which
// makes the kernel stop sending that operation for the rest of the mount.

var statusErrno = map[uint32]syscall.Errno{
	remote.StatusEOF:              syscall.EIO, // EOF where an answer was due
	remote.StatusNoSuchFile:       syscall.ENOENT,
	remote.StatusPermissionDenied: syscall.EACCES,
	remote.StatusFailure:          syscall.EIO, // ambiguous: see explain
	remote.StatusBadMessage:       syscall.EINVAL,
	remote.StatusNoConnection:     syscall.ENOTCONN,
	remote.StatusConnectionLost:   syscall.EIO,
	remote.StatusOpUnsupported:    syscall.ENOTSUP,
	remote.StatusInvalidHandle:    syscall.EBADF,
	remote.StatusNoSuchPath:       syscall.ENOENT,
	remote.StatusFileExists:       syscall.EEXIST,
	remote.StatusWriteProtect:     syscall.EROFS,
	remote.StatusNoMedia:          syscall.ENODEV,
	remote.StatusNoSpace:          syscall.ENOSPC,
	remote.StatusQuotaExceeded:    syscall.EDQUOT,
	remote.StatusLockConflict:     syscall.EAGAIN,
	remote.StatusDirNotEmpty:      syscall.ENOTEMPTY,
	remote.StatusNotADirectory:    syscall.ENOTDIR,
	remote.StatusInvalidFilename:  syscall.EINVAL,
	remote.StatusLinkLoop:         syscall.ELOOP,
	remote.StatusCannotDelete:     syscall.EPERM,
	remote.StatusInvalidParameter: syscall.EINVAL,
	remote.StatusFileIsADirectory: syscall.EISDIR,
}

// statusCode extracts the SFTP status code carried by err, if any
// (remote.StatusCode, named here for fs's other files).
var statusCode = remote.StatusCode

// The status codes fs's other files compare with.
const (
	fxFailure       = remote.StatusFailure
	fxOpUnsupported = remote.StatusOpUnsupported
)

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
	return ok && code == remote.StatusFailure
}

// errOf is errno as an error: nil for 0.
func errOf(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}
