package writeback

import (
	"context"
	"os"
	"syscall"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// Config configures write-back; see the mount's Options.Writeback.
type Config struct {
	Journal *Journal
	// New files go to the journal. False: the journal's files (left by
	// an earlier mount) are uploaded, and nothing new is added.
	On    bool
	Limit int64 // bytes the journal may hold before new files go straight to the server
	// Delay is how long after its last close a file waits before its
	// upload begins (-o writeback_delay): a lock file renamed, a
	// temporary file removed within it costs the server nothing.
	Delay time.Duration
	// Notice prints one line on stderr (conflicts, failures).
	Notice func(string)
}

// Remote is the server as an upload uses it; paths are relative to the
// mount's root. *remote.Client, through a small adapter, is one.
type Remote interface {
	// LoginOwner is the uid and gid the server gives the login user.
	LoginOwner() (uid, gid uint32)
	Lstat(ctx context.Context, rel string) (remote.Attr, error)
	// Create makes rel exclusively (O_WRONLY|O_CREATE|O_EXCL): an open
	// with O_TRUNC would follow a symlink another user put there.
	Create(ctx context.Context, rel string) (RemoteFile, error)
	Remove(ctx context.Context, rel string) error
	Rename(ctx context.Context, from, to string) error
	StatFS(ctx context.Context, rel string) (remote.StatFS, error)
	// Chtimes sets rel's times by path, as the mount changes a path.
	Chtimes(ctx context.Context, rel string, a remote.Attr) error
}

// RemoteFile is an upload's open file on the server. Its mode, owner and
// times are set through the handle, before its close: another server
// user who can write the directory may have swapped the name for a
// symlink meanwhile, which a change by path would follow.
type RemoteFile interface {
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)
	Chmod(ctx context.Context, mode os.FileMode) error
	Chown(ctx context.Context, uid, gid uint32) error
	Chtimes(ctx context.Context, a remote.Attr) error
	Close(ctx context.Context) error
}

// Host is what write-back needs of the mount: what it keeps of a path,
// and how it reads errors. Its methods are called with no lock of the
// queue held, but NewFileOwner and Mode, which must take none but a
// cache's own.
type Host interface {
	// NewFileOwner is the owner the server gives a file made in dir,
	// when the mount knows it.
	NewFileOwner(dir string) (uid, gid uint32, ok bool)
	// Result logs op's outcome for rel (under -d).
	Result(op, rel string, err error)
	// Uploaded says a file of ours is at rel on the server now. shown,
	// when given, is what it shows there: it has left the journal. nil:
	// it is still open for writing and stays in the journal.
	Uploaded(rel string, shown *remote.Attr)
	// Kept says the server's file at rel was kept after a conflict, ours
	// put beside it; closed: ours has left the journal, and what the
	// kernel holds of rel is dropped too.
	Kept(rel string, closed bool)
	// DirTimesSet says dir's times were set again on the server.
	DirTimesSet(dir string)
	// Mode converts permission bits (07777, as the journal keeps them)
	// to Go's.
	Mode(perm uint32) os.FileMode
	// Errno is the errno a local disk would give for err.
	Errno(err error) syscall.Errno
	// Answered reports whether err is the server's answer (a status),
	// and IsFailure whether it is the catch-all SSH_FX_FAILURE.
	Answered(err error) bool
	IsFailure(err error) bool
}
