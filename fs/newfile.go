package fs

import (
	"context"
	"os"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// createNew makes a file that cannot have existed (O_EXCL), opened for
// writing only, in one round trip: the open. pkg/sftp sends no attributes
// with it, so the server gives the file the mode and owner it gives every
// new file in that directory (0666 less its umask, or its default ACL; the
// directory's group if setgid); those were learned from the last file made
// there and are checked by an fstat in the background, read at close. The
// first file of a directory waits for that fstat. The mode asked for, and
// the changes the creator makes next, go with the data (see held.go).
func (n *Node) createNew(ctx context.Context, name string, fl int, perm os.FileMode, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	rel, dir := n.child(name), n.rel()
	n.fs.forget(rel)
	sent := time.Now()
	f, err := n.fs.remote.OpenFile(ctx, rel, fl)
	n.fs.settled(rel, err, true)
	if err != nil {
		return nil, nil, 0, n.fs.result("create", rel, err, n.explainOpen(ctx, rel, true))
	}
	server, predicted := n.fs.newFiles.Get(dir)
	if predicted {
		// The server made the file halfway through the open's round
		// trip, by our clock: the estimate of its times, forgotten at
		// release (held.go sends the atime again if it was wrong).
		made := sent.Add(time.Since(sent) / 2)
		now := time.Unix(made.Unix(), 0)
		server.Size, server.Atime, server.Mtime = 0, now, now
	} else {
		if server, err = f.Stat(ctx); err != nil {
			n.fs.bg.Go(func(context.Context) { f.Close(context.Background()) })
			return nil, nil, 0, n.fs.result("create", rel, err, nil)
		}
		n.fs.learnedNewFiles(dir, server)
	}
	shown := server
	shown.Mode = server.Mode&os.ModeType | perm
	n.fs.attrIs(rel, shown)
	n.fs.result("create", rel, nil, nil)
	ch := n.newChild(ctx, name, shown, true, out)
	node := ch.Operations().(*Node)

	var pid uint32
	if c, ok := ctx.(*fuse.Context); ok {
		pid = c.Pid
	}
	p := newHeldChanges(remoteAttrs{node: node, f: f}, pid, server, perm, predicted)
	if predicted {
		n.fs.bg.Go(func(context.Context) {
			p.check()
			if a := p.checkAttr; p.checkErr == nil && (a.Mode != server.Mode || a.UID != server.UID || a.GID != server.GID) {
				n.fs.newFilesChanged(dir)
			}
		})
	}
	if predicted || shown.Mode != server.Mode {
		// Not so on the server yet: the kernel asks again when it needs
		// them, and gets them from the cache until the file is closed.
		out.SetAttrTimeout(0)
	}
	h := newFileHandle(f, node, rel, fl, p)
	if predicted {
		h.wrote.Store(true) // the cached times are our estimate: forgotten at release
	}
	return ch, h, 0, 0
}

// remoteAttrs sends a file's changes through its handle (FSETSTAT): the
// file its creator made, even should its name have been swapped for a
// symlink on the server since (remote/setattr.go). Its node's path, when
// they go, is what the log names. Changes are logged under -d like a
// request and come back as errnos.
type remoteAttrs struct {
	node *Node
	f    *remote.File
}

func (r remoteAttrs) chown(uid, gid uint32) error {
	rel := r.node.rel()
	return r.changed(rel, notOwner(r.node.fs.result("chown", rel, r.f.Chown(context.Background(), uid, gid), r.node.explainSetattr(context.Background(), rel))))
}

func (r remoteAttrs) chmod(mode os.FileMode) error {
	rel := r.node.rel()
	return r.changed(rel, notOwner(r.node.fs.result("chmod", rel, r.f.Chmod(context.Background(), mode), r.node.explainSetattr(context.Background(), rel))))
}

func (r remoteAttrs) chtimes(atime, mtime time.Time) error {
	rel := r.node.rel()
	err := r.f.Chtimes(context.Background(), remote.Attr{Atime: atime, Mtime: mtime})
	return r.changed(rel, r.node.fs.result("utimens", rel, err, r.node.explainSetattr(context.Background(), rel)))
}

// changed records the change (fetch.go): what was asked before it, a
// listing made ahead included, may predate it. It returns errno as an
// error, nil for 0.
func (r remoteAttrs) changed(rel string, errno syscall.Errno) error {
	r.node.fs.touched(rel)
	if errno == 0 {
		return nil
	}
	return errno
}

func (r remoteAttrs) stat() (remote.Attr, error) { return r.f.Stat(context.Background()) }

// rewrites counts the file's writes sent again after a lost connection,
// and the connections made again: a write that first went out only on a
// new connection (its first try found the old one dead, or it was held
// back until then) may land after changes sent before it was, and then
// the times are sent again (held.go).
func (r remoteAttrs) rewrites() uint64 {
	return r.f.Rewrites() + uint64(r.node.fs.remote.Stats().Reconnects)
}

func (r remoteAttrs) explain(why string) { r.node.fs.result(why, r.node.rel(), nil, nil) }
