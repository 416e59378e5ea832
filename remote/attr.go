package remote

import (
	"os"
	"time"

	"github.com/pkg/sftp"
)

// Attr is what SFTP v3 tells about a file. Times have second precision.
type Attr struct {
	Mode  os.FileMode // Go mode bits: type in the high bits, permissions 07777 below
	Size  uint64
	UID   uint32
	GID   uint32
	Atime time.Time
	Mtime time.Time
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
}
