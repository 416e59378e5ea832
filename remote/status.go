package remote

import (
	"errors"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote/wire"
)

// SFTP status codes (SSH_FX_*), as the errors of remote's calls carry
// them (StatusCode): package wire's list, named here so that remote's
// callers need neither pkg/sftp nor wire to read a server's answer.
// Codes past 8 are from later protocol drafts; OpenSSH speaks v3 and
// never sends them, but other servers do.
const (
	StatusEOF              = wire.StatusEOF
	StatusNoSuchFile       = wire.StatusNoSuchFile
	StatusPermissionDenied = wire.StatusPermissionDenied
	StatusFailure          = wire.StatusFailure
	StatusBadMessage       = wire.StatusBadMessage
	StatusNoConnection     = wire.StatusNoConnection
	StatusConnectionLost   = wire.StatusConnectionLost
	StatusOpUnsupported    = wire.StatusOpUnsupported
	StatusInvalidHandle    = wire.StatusInvalidHandle
	StatusNoSuchPath       = wire.StatusNoSuchPath
	StatusFileExists       = wire.StatusFileExists
	StatusWriteProtect     = wire.StatusWriteProtect
	StatusNoMedia          = wire.StatusNoMedia
	StatusNoSpace          = wire.StatusNoSpace
	StatusQuotaExceeded    = wire.StatusQuotaExceeded
	StatusLockConflict     = wire.StatusLockConflict
	StatusDirNotEmpty      = wire.StatusDirNotEmpty
	StatusNotADirectory    = wire.StatusNotADirectory
	StatusInvalidFilename  = wire.StatusInvalidFilename
	StatusLinkLoop         = wire.StatusLinkLoop
	StatusCannotDelete     = wire.StatusCannotDelete
	StatusInvalidParameter = wire.StatusInvalidParameter
	StatusFileIsADirectory = wire.StatusFileIsADirectory
)

// pkg/sftp returns some codes as bare values of its unexported fxerr type.
var bareStatus = []struct {
	err  error
	code uint32
}{
	{sftp.ErrSSHFxEOF, StatusEOF},
	{sftp.ErrSSHFxNoSuchFile, StatusNoSuchFile},
	{sftp.ErrSSHFxPermissionDenied, StatusPermissionDenied},
	{sftp.ErrSSHFxFailure, StatusFailure},
	{sftp.ErrSSHFxBadMessage, StatusBadMessage},
	{sftp.ErrSSHFxNoConnection, StatusNoConnection},
	{sftp.ErrSSHFxConnectionLost, StatusConnectionLost},
	{sftp.ErrSSHFxOpUnsupported, StatusOpUnsupported},
}

// StatusCode is the SFTP status code err carries, wrapped or not: the
// server's answer (an *sftp.StatusError) or one of pkg/sftp's bare codes
// (sftp.ErrSSHFxFailure...). False for an error no status carries (a
// deadline, os.ErrNotExist...).
func StatusCode(err error) (uint32, bool) {
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

// StatusErr is the error a call returns when the server answers code:
// for fakes of remote in other packages' tests.
func StatusErr(code uint32) error { return &sftp.StatusError{Code: code} }
