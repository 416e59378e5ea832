package fs

import (
	"context"
	"errors"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/sftpmount/sftpmount/remote"
)

var _ = (fusefs.NodeCopyFileRanger)((*Node)(nil))

// maxCopyData bounds one copy_file_range's server-side copy, so that it
// stays well inside the call deadline; cp asks again for the rest.
const maxCopyData = 128 << 20

// CopyFileRange serves copy_file_range(2) (coreutils cp uses it) within
// the mount with OpenSSH's copy-data: the bytes are copied on the server
// and never cross the link. Queued writes of both files land first; the
// count is what the source holds past offIn, at most length (copy-data
// reports none).
//
// Where the server cannot copy, the answer is ENOTSUP, and FUSE then
// copies through the mount's own reads and writes (fuse_copy_file_range
// falls back to a splice on EOPNOTSUPP and EXDEV), so the program sees
// the bytes a local disk would hold, never an error of the carrier:
//   - no copy-data extension;
//   - two ranges of one file: OpenSSH refuses a copy whose two handles
//     name one path (SSH_FX_FAILURE, every time);
//   - a copy cut off by a lost connection: the kernel's reads and writes
//     are repeated on the new one, copy-data is not;
//   - a copy the server failed or refused (SSH_FX_FAILURE, OP_UNSUPPORTED):
//     it says nothing of why, and the kernel's copy gets the real errno
//     (ENOSPC, say) from the writes. Copying again what the server may
//     have half copied is harmless: the ranges do not overlap.
//   - handles of write-back or of a new file the mount holds.
func (n *Node) CopyFileRange(ctx context.Context, fhIn fusefs.FileHandle, offIn uint64, out *fusefs.Inode, fhOut fusefs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	in, ok1 := fhIn.(*fileHandle)
	dst, ok2 := out.Operations().(*Node)
	_, ok3 := fhOut.(*fileHandle)
	if !ok1 || !ok2 || !ok3 || flags != 0 {
		return 0, syscall.ENOTSUP
	}
	rel, dstRel := n.rel(), dst.rel()
	sameFile := rel == dstRel || n == dst
	if sameFile && offIn < offOut+length && offOut < offIn+length {
		return 0, syscall.EINVAL // overlapping ranges of one file, as copy_file_range(2) says
	}
	if sameFile {
		n.fs.debugf("copy_file_range %s: within one file, which copy-data refuses: copied by the kernel", rel)
		return 0, syscall.ENOTSUP
	}
	n.fs.quiesce(ctx, landWrites, ofNode(n), ofNode(dst))
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
	if code, ok := statusCode(err); (ok && (code == fxFailure || code == fxOpUnsupported)) || errors.Is(err, remote.ErrConnectionLost) {
		n.fs.debugf("copy_file_range %s -> %s: the server's copy-data failed (%v): copied by the kernel", rel, dstRel, err)
		return 0, syscall.ENOTSUP
	}
	if err != nil {
		return 0, n.fs.result("copy_file_range", dstRel, err, nil)
	}
	n.fs.result("copy_file_range", rel+" -> "+dstRel, nil, nil)
	return uint32(count), 0
}
