package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// fileHandle is one open(2) of a remote file. Writes go to the server
// before write(2) returns, so a write error reaches the application at
// write time, never later or not at all.
type fileHandle struct {
	f    *remote.File
	node *Node
	rel  string
}

// Read fills dest from off; a short result means end of file.
func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := h.f.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.fs.result("read", h.rel, err, nil)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write stores data at off on the server.
func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.node.fs.attrs.Delete(h.rel)
	n, err := h.f.WriteAt(ctx, data, off)
	if err != nil {
		return uint32(n), h.node.fs.result("write", h.rel, err, h.node.explainWrite(ctx, h.rel))
	}
	return uint32(n), 0
}

// Flush runs at every close(2). Nothing is buffered, so there is nothing
// to send; errors were returned by the writes themselves.
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno { return 0 }

// Fsync returns once the server has synced the file (fsync@openssh.com).
func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return h.node.fs.result("fsync", h.rel, h.f.Sync(ctx), nil)
}

// Release closes the remote handle after the last close(2).
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	h.node.fs.attrs.Delete(h.rel)
	return h.node.fs.result("release", h.rel, h.f.Close(ctx), nil)
}

// Getattr through an open handle (fstat).
func (h *fileHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	a, err := h.f.Stat(ctx)
	if err != nil {
		return h.node.fs.result("fgetattr", h.rel, err, nil)
	}
	h.node.fs.fillAttrOut(a, out)
	return 0
}
