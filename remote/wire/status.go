package wire

import "fmt"

// StatusError is an SSH_FXP_STATUS reply other than OK.
type StatusError struct {
	Code uint32
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("sftp status %d: %s", e.Code, e.Msg) }

// SFTP status codes (SSH_FX_*), the one list of them: remote names them
// for its callers (remote/status.go). Codes past 8 are from later
// protocol drafts; OpenSSH speaks v3 and never sends them, but other
// servers do.
const (
	StatusOK               = 0
	StatusEOF              = 1
	StatusNoSuchFile       = 2
	StatusPermissionDenied = 3
	StatusFailure          = 4
	StatusBadMessage       = 5
	StatusNoConnection     = 6
	StatusConnectionLost   = 7
	StatusOpUnsupported    = 8
	StatusInvalidHandle    = 9
	StatusNoSuchPath       = 10
	StatusFileExists       = 11
	StatusWriteProtect     = 12
	StatusNoMedia          = 13
	StatusNoSpace          = 14
	StatusQuotaExceeded    = 15
	StatusLockConflict     = 17
	StatusDirNotEmpty      = 18
	StatusNotADirectory    = 19
	StatusInvalidFilename  = 20
	StatusLinkLoop         = 21
	StatusCannotDelete     = 22
	StatusInvalidParameter = 23
	StatusFileIsADirectory = 24
)
