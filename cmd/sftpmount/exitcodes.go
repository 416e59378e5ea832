package main

// Exit codes, documented in the README's table. A script can tell a fault
// it can fix (a host key, a missing directory) from one it should retry.
const (
	ExitOK          = 0
	ExitInternal    = 1  // a bug or an unexpected failure of the mount process
	ExitUsage       = 2  // bad arguments or -o option
	ExitMountpoint  = 3  // the mountpoint is missing or not a directory
	ExitConnect     = 4  // the server could not be reached or the SSH handshake failed
	ExitHostKey     = 5  // the server's host key is unknown, changed or revoked
	ExitAuth        = 6  // no authentication method was accepted
	ExitRemoteDir   = 7  // the remote directory is missing or not a directory
	ExitMount       = 8  // the kernel refused the FUSE mount
	ExitConfig      = 9  // ssh_config or a local file named in the options is wrong or unreadable
	ExitNotUploaded = 10 // -o writeback: files could not be uploaded by unmount (or sync); they stay in the journal

	ExitInterrupted = 130 // interrupted (Ctrl-C) before the mount was ready
)

// failure is an error that knows its exit code. Its message is the one
// line printed on stderr.
type failure struct {
	code int
	msg  string
}

func (f *failure) Error() string { return f.msg }

func fail(code int, msg string) *failure { return &failure{code: code, msg: msg} }
