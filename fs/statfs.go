package fs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Statfs serves df through statvfs@openssh.com.
func (n *Node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	st, err := n.fs.remote.StatFS(ctx, "")
	if err != nil {
		return n.fs.result("statfs", "", err, nil)
	}
	out.Bsize = uint32(st.BlockSize)
	out.Frsize = uint32(st.FragmentSize)
	out.Blocks = st.Blocks
	out.Bfree = st.BlocksFree
	out.Bavail = st.BlocksAvail
	out.Files = st.Files
	out.Ffree = st.FilesFree
	out.NameLen = uint32(st.NameMax)
	return 0
}
