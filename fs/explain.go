package fs

import (
	"context"
	"path"
	"syscall"
)

// OpenSSH's sftp-server answers SSH_FX_FAILURE for EEXIST, ENOTEMPTY,
// EISDIR, ENOTDIR and ENOSPC alike. The explain functions here find the
// real cause with one or two cheap requests, as a local disk would have
// answered; each returns 0 when it cannot tell, and the caller says EIO.

// explainCreate: why could rel not be created?
func (n *Node) explainCreate(ctx context.Context, rel string) func() syscall.Errno {
	return func() syscall.Errno {
		if _, err := n.fs.remote.Lstat(ctx, rel); err == nil {
			return syscall.EEXIST
		}
		if e := n.explainNotDir(ctx, path.Dir(rel))(); e != 0 {
			return e
		}
		return n.explainNoSpace(ctx, path.Dir(rel))()
	}
}

// explainNotDir: is rel (or a parent) not a directory?
func (n *Node) explainNotDir(ctx context.Context, rel string) func() syscall.Errno {
	return func() syscall.Errno {
		if rel == "." {
			rel = ""
		}
		a, err := n.fs.remote.Lstat(ctx, rel)
		if err == nil && !a.Mode.IsDir() {
			return syscall.ENOTDIR
		}
		return 0
	}
}

// explainRemoveDir: why could the directory rel not be removed?
func (n *Node) explainRemoveDir(ctx context.Context, rel string) func() syscall.Errno {
	return func() syscall.Errno {
		a, err := n.fs.remote.Lstat(ctx, rel)
		if err != nil {
			return errnoOf(err)
		}
		if !a.Mode.IsDir() {
			return syscall.ENOTDIR
		}
		if entries, err := n.fs.remote.ReadDir(ctx, rel); err == nil && len(entries) > 0 {
			return syscall.ENOTEMPTY
		}
		return 0
	}
}

// explainOpen: why could rel not be opened (with O_CREAT|O_EXCL when excl)?
func (n *Node) explainOpen(ctx context.Context, rel string, excl bool) func() syscall.Errno {
	return func() syscall.Errno {
		a, err := n.fs.remote.Lstat(ctx, rel)
		switch {
		case err == nil && excl:
			return syscall.EEXIST
		case err == nil && a.Mode.IsDir():
			return syscall.EISDIR
		case err == nil:
			return n.explainNoSpace(ctx, path.Dir(rel))()
		}
		return n.explainNotDir(ctx, path.Dir(rel))()
	}
}

// explainWrite: a write or truncate of rel failed; a full disk is the
// usual cause.
func (n *Node) explainWrite(ctx context.Context, rel string) func() syscall.Errno {
	return n.explainNoSpace(ctx, path.Dir(rel))
}

// explainNoSpace: is the filesystem holding dir full, or read-only?
func (n *Node) explainNoSpace(ctx context.Context, dir string) func() syscall.Errno {
	return func() syscall.Errno {
		st, err := n.fs.remote.StatFS(ctx, cleanRel(dir))
		switch {
		case err == nil && st.ReadOnly:
			return syscall.EROFS
		case err == nil && st.BlocksAvail == 0:
			return syscall.ENOSPC
		}
		return 0
	}
}

// explainSetattr: a chmod, chown or time change of rel failed. OpenSSH's
// sftp-server says EPERM and EACCES as PERMISSION_DENIED, so a plain
// failure is something else: the file gone, a read-only filesystem, or
// a change the server (or its filesystem) does not make, which is EPERM,
// the errno of a local filesystem that refuses one (vfat's chown; cp -p
// and tar go on past it: docs/servers.md).
func (n *Node) explainSetattr(ctx context.Context, rel string) func() syscall.Errno {
	return func() syscall.Errno {
		if _, err := n.fs.remote.Lstat(ctx, rel); err != nil {
			if e := errnoOf(err); e == syscall.ENOENT {
				return e
			}
			return 0
		}
		if st, err := n.fs.remote.StatFS(ctx, rel); err == nil && st.ReadOnly {
			return syscall.EROFS
		}
		return syscall.EPERM
	}
}

// cleanRel turns path.Dir's "." for the root into "".
func cleanRel(rel string) string {
	if rel == "." {
		return ""
	}
	return rel
}
