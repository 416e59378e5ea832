package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
)

var _ = (fusefs.NodeCopyFileRanger)((*Node)(nil))

// maxCopyData bounds one copy_file_range's server-side copy, so that it
// stays well inside the call deadline; cp asks again for the rest.
const maxCopyData = 128 << 20

// CopyFileRange serves copy_file_range(2) (coreutils cp uses it) within
// the mount with OpenSSH's copy-data: the bytes are copied on the server
// and never cross the link. Queued writes of both files land first; the
// count is what the source holds past offIn, at most length (copy-data
// reports none). Without the extension, ENOTSUP: the kernel, or cp,
// copies through reads and writes instead.
func (n *Node) CopyFileRange(ctx context.Context, fhIn fusefs.FileHandle, offIn uint64, out *fusefs.Inode, fhOut fusefs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	in, ok1 := fhIn.(*fileHandle)
	dst, ok2 := out.Operations().(*Node)
	_, ok3 := fhOut.(*fileHandle)
	if !ok1 || !ok2 || !ok3 || flags != 0 {
		return 0, syscall.ENOTSUP
	}
	rel, dstRel := n.rel(), dst.rel()
	if rel == dstRel && offIn < offOut+length && offOut < offIn+length {
		return 0, syscall.EINVAL // overlapping ranges of one file, as copy_file_range(2) says
	}
	n.flushHandles()
	dst.flushHandles()
	a, err := in.f.Stat(ctx)
	if err != nil {
		return 0, n.fs.result("copy_file_range", rel, err, nil)
	}
	if offIn >= a.Size {
		return 0, 0
	}
	count := min(length, a.Size-offIn, maxCopyData)
	dst.fs.touched(dstRel)
	err = n.fs.remote.CopyData(ctx, rel, offIn, count, dstRel, offOut)
	dst.fs.forget(dstRel) // its size and mtime are the server's now
	dst.dropPages()
	dst.forgetReadAhead()
	if err != nil {
		return 0, n.fs.result("copy_file_range", dstRel, err, nil)
	}
	n.fs.result("copy_file_range", rel+" -> "+dstRel, nil, nil)
	return uint32(count), 0
}
