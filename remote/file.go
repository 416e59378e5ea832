package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// File is an open remote file. It stays bound to the session it was opened
// on: if that session dies, its calls fail with ErrConnectionLost rather
// than silently acting on a handle the new session never opened.
type File struct {
	c   *Client
	s   *session
	f   *sftp.File
	abs string
}

// CreateFile opens rel with O_CREATE added to flags, gives it mode and
// returns its attributes. pkg/sftp sends no attributes with open, so the
// mode is a second request, sent together with the fstat: two round trips
// in all.
func (c *Client) CreateFile(ctx context.Context, rel string, flags int, mode os.FileMode) (*File, Attr, error) {
	f, err := c.OpenFile(ctx, rel, flags|os.O_CREATE, 0)
	if err != nil {
		return nil, Attr{}, err
	}
	var a Attr
	var chmodErr, statErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); chmodErr = f.run(ctx, "fchmod", func() error { return f.f.Chmod(mode) }) }()
	go func() { defer wg.Done(); a, statErr = f.Stat(ctx) }()
	wg.Wait()
	if err := errors.Join(chmodErr, statErr); err != nil {
		go f.Close(context.Background())
		return nil, Attr{}, err
	}
	a.Mode = a.Mode&os.ModeType | mode
	return f, a, nil
}

// OpenFile opens rel with os.O_* flags (O_CREATE, O_EXCL, O_TRUNC, O_APPEND
// are passed to the server).
func (c *Client) OpenFile(ctx context.Context, rel string, flags int, mode os.FileMode) (*File, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	s, err := c.session(ctx)
	if err != nil {
		return nil, &OpError{Op: "open", Path: c.abs(rel), Err: err}
	}
	f := &File{c: c, s: s, abs: c.abs(rel)}
	err = runOn(ctx, s, "open", f.abs, func(sc *sftp.Client) error {
		h, err := sc.OpenFile(f.abs, flags)
		if err != nil {
			return err
		}
		f.f = h
		return nil
	})
	if err != nil {
		if f.f != nil {
			go f.f.Close()
		}
		return nil, err
	}
	return f, nil
}

func (f *File) run(ctx context.Context, op string, fn func() error) error {
	ctx, cancel := f.c.callContext(ctx)
	defer cancel()
	start := time.Now()
	err := runOn(ctx, f.s, op, f.abs, func(*sftp.Client) error { return fn() })
	f.c.cfg.debugf("  sftp %s %s: %v in %v", op, f.abs, errOrOK(err), time.Since(start).Round(time.Microsecond))
	return err
}

// ReadAt fills p from off. It returns fewer bytes only at end of file, and
// then io.EOF. pkg/sftp can report a short server reply as EOF (pkg/sftp
// issue 658), so an early EOF is checked against the file's size and the
// rest is asked for again rather than silently truncating.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	total := 0
	stalls := 0
	for total < len(p) {
		var n int
		err := f.run(ctx, "read", func() error {
			var err error
			n, err = f.f.ReadAt(p[total:], off+int64(total))
			return err
		})
		total += n
		if n > 0 {
			stalls = 0
		}
		switch {
		case err == nil && n > 0:
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return total, err
		}
		// EOF, or a reply with no bytes: is the file really that short?
		a, serr := f.Stat(ctx)
		if serr != nil {
			return total, serr
		}
		if a.Size <= uint64(off)+uint64(total) {
			return total, io.EOF
		}
		if stalls++; stalls > 3 {
			return total, &OpError{Op: "read", Path: f.abs, Err: io.ErrUnexpectedEOF}
		}
	}
	return total, nil
}

// WriteAt writes all of p at off or returns an error.
func (f *File) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	var n int
	err := f.run(ctx, "write", func() error {
		var err error
		n, err = f.f.WriteAt(p, off)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		return err
	})
	return n, err
}

// Stat returns the attributes of the open file (fstat).
func (f *File) Stat(ctx context.Context) (Attr, error) {
	var a Attr
	err := f.run(ctx, "fstat", func() error {
		fi, err := f.f.Stat()
		if err == nil {
			a = attrOf(fi)
		}
		return err
	})
	return a, err
}

// Truncate sets the size through the handle (fsetstat).
func (f *File) Truncate(ctx context.Context, size uint64) error {
	return f.run(ctx, "ftruncate", func() error { return f.f.Truncate(int64(size)) })
}

// Sync asks the server to fsync (fsync@openssh.com); it returns once the
// server has. Without the extension it reports ErrSSHFxOpUnsupported.
func (f *File) Sync(ctx context.Context) error {
	return f.run(ctx, "fsync", func() error { return f.f.Sync() })
}

// Close releases the remote handle. The server reports some write errors
// only here (a full disk on an NFS-backed server, say), so the error matters.
func (f *File) Close(ctx context.Context) error {
	return f.run(ctx, "close", func() error { return f.f.Close() })
}
