package remote

import (
	"syscall"

	"github.com/sftpmount/sftpmount/remote/wire"
	"os"
	"time"

	"github.com/pkg/sftp"
)

// Attr is what the server tells about a file. Over SFTP v3 times have
// second precision and Ino, Dev and Ctime are unknown (zero); a bulk
// listing by find (Tree) gives them all, and Mtime to the nanosecond.
// Compare mtimes of two answers with SameMtime, at the precision both have.
type Attr struct {
	Mode  os.FileMode // Go mode bits: type in the high bits, permissions 07777 below
	Size  uint64
	UID   uint32
	GID   uint32
	Atime time.Time
	Mtime time.Time
	// Nlink is the link count, known only from a listing of OpenSSH's
	// (its ls -l style long names): SFTP v3 attributes carry none. 0:
	// not known.
	Nlink uint32
	// Dev and Ino name the file on the server (0: not known); Ctime is
	// its change time (zero: not known). Only Tree tells them.
	Dev, Ino uint64
	Ctime    time.Time
}

// SameMtime says whether two mtimes are the same at the precision both
// have: an SFTP answer has whole seconds, find's has nanoseconds, and a
// file whose SFTP mtime is find's truncated has not changed.
func SameMtime(a, b time.Time) bool {
	if a.Equal(b) {
		return true
	}
	if a.Nanosecond() == 0 || b.Nanosecond() == 0 {
		return a.Unix() == b.Unix()
	}
	return false
}

// DirEntry is one name in a listing, with the attributes that came with it.
type DirEntry struct {
	Name string
	Attr Attr
}

func attrOf(fi os.FileInfo) Attr {
	a := Attr{Mode: fi.Mode(), Size: uint64(fi.Size()), Mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		a.UID, a.GID = st.UID, st.GID
		a.Atime = time.Unix(int64(st.Atime), 0)
		a.Mtime = time.Unix(int64(st.Mtime), 0)
	}
	return a
}

// StatFS is the answer of statvfs@openssh.com.
type StatFS struct {
	BlockSize, FragmentSize         uint64
	Blocks, BlocksFree, BlocksAvail uint64
	Files, FilesFree                uint64
	NameMax                         uint64
	FSID                            uint64 // tells two filesystems of the server apart
	ReadOnly                        bool   // mounted read-only on the server (ST_RDONLY)
}

// attrFromWire converts the wire layer's attributes as pkg/sftp's
// FileInfo would (attrOf): type and permission bits, owner, whole-second
// times.
func attrFromWire(a wire.Attrs, nlink uint32) Attr {
	out := Attr{Size: a.Size, UID: a.UID, GID: a.GID, Nlink: nlink}
	out.Mode = os.FileMode(a.Perm & 0777)
	switch a.Perm & syscall.S_IFMT {
	case syscall.S_IFDIR:
		out.Mode |= os.ModeDir
	case syscall.S_IFLNK:
		out.Mode |= os.ModeSymlink
	case syscall.S_IFBLK:
		out.Mode |= os.ModeDevice
	case syscall.S_IFCHR:
		out.Mode |= os.ModeDevice | os.ModeCharDevice
	case syscall.S_IFIFO:
		out.Mode |= os.ModeNamedPipe
	case syscall.S_IFSOCK:
		out.Mode |= os.ModeSocket
	}
	if a.Perm&syscall.S_ISUID != 0 {
		out.Mode |= os.ModeSetuid
	}
	if a.Perm&syscall.S_ISGID != 0 {
		out.Mode |= os.ModeSetgid
	}
	if a.Perm&syscall.S_ISVTX != 0 {
		out.Mode |= os.ModeSticky
	}
	if a.HasTimes {
		out.Atime, out.Mtime = a.Atime, a.Mtime
	} else {
		out.Atime, out.Mtime = time.Unix(0, 0), time.Unix(0, 0)
	}
	return out
}
