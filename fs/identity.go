package fs

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/fs/identity"
	"github.com/sftpmount/sftpmount/remote"
)

// Identity. Which node answers for a name, and its inode number, are
// chosen by the identity package (fs/identity; its doc.go says how and
// why); this file is its go-fuse side: it makes the inodes the table
// decides on, tells the kernel what changed, and asks the server (through
// objects.go) what the table needs to know. The table decides under its
// own lock and calls nothing; what follows from a decision is done here,
// after.

// placeOf is name in n, as the identity table knows it.
func (n *Node) placeOf(name string) identity.Place {
	return identity.Place{Dir: n.StableAttr().Ino, Name: name}
}

// newChild returns the node for name, just looked up or created with
// attributes a, and fills out. fresh says the server has just made the
// object (mkdir, symlink, an exclusive create): a node still held for the
// name belongs to an object that is gone.
func (n *Node) newChild(ctx context.Context, name string, a remote.Attr, fresh bool, out *fuse.EntryOut) *fusefs.Inode {
	f := n.fs
	rel := n.child(name)
	a = f.withTold(rel, a) // the server's number, where a bulk answer told it (tree.go)
	f.fillEntry(rel, a, out)
	mode := sysMode(a.Mode) & syscall.S_IFMT
	if mode == syscall.S_IFDIR {
		f.watch(rel) // the kernel holds it from now on
	}
	c := identity.Child{
		At:     n.placeOf(name),
		Mode:   mode,
		Obj:    f.knownObject(rel, a), // which file the server said it is, if asked (objects.go)
		Linked: hasLinks(f.withLinks(rel, a)),
		Look:   identity.LookOf(a),
		Fresh:  fresh,
		Want:   a.Ino, // the server's number, where a bulk answer told it (tree.go)
	}
	answers := identity.Answers{}
	var made *identity.Made[*Node]
	for {
		got := f.ids.Child(c, answers, made)
		switch {
		case got.Found:
			if got.Shed {
				f.notify.kickShed()
			}
			if made == nil || got.Node != made.Node {
				got.Node.showLinks(&out.Attr) // a node made now has one name
			}
			return &got.Node.Inode
		case len(got.Ask) > 0:
			for _, p := range got.Ask {
				answers[p], _ = f.objects.byPath.Get(p)
			}
		default:
			// A new node: made outside the table's lock, then recorded
			// (or, if the table changed meanwhile, decided again).
			child := &Node{fs: f}
			n.NewInode(ctx, child, fusefs.StableAttr{Mode: mode, Ino: got.Ino, Gen: got.Gen})
			made = &identity.Made[*Node]{Entry: &child.id, Node: child, Ino: got.Ino, Gen: got.Gen}
		}
	}
}

// OnForget drops the node from the table once the kernel and the tree no
// longer hold it.
func (n *Node) OnForget() {
	if n.StableAttr().Mode&syscall.S_IFMT == syscall.S_IFDIR && n.fs.root != nil {
		// The kernel holds it no more: the feed need not watch it.
		for _, p := range n.fs.ids.Paths(&n.id) {
			n.fs.remote.Unwatch(p)
		}
	}
	n.fs.ids.Forget(&n.id)
}

// linked records a second name for n, made through the mount.
func (f *FS) linked(n *Node, dir *Node, name string) {
	f.ids.Link(&n.id, dir.placeOf(name))
}

// dropName drops the node at name in n, after an unlink or rmdir through
// the mount or when the server no longer has it: the name's next object
// is another one.
func (n *Node) dropName(name string) {
	n.fs.ids.Drop(n.placeOf(name))
}

// moved follows a rename through the mount: the node keeps its number at
// its new name, and whatever the new name held loses it.
func (f *FS) moved(from *Node, name string, to *Node, newName string) {
	f.ids.Move(from.placeOf(name), to.placeOf(newName))
}

// showLinks sets st_nlink to at least the names this mount knows the
// node by (more than one only for links made through the mount). The
// count itself comes from the last listing of the node's directory
// (OpenSSH's long names); SFTP v3's attributes carry none, so where no
// listing has told, or since the attributes were fetched again by name,
// it is those names, 1 for a file or directory known by one. A node with
// several names shows the largest count a listing told of any of them: a
// name met by lstat alone (no count) and found to be one file with a
// listed name shows the listed count.
func (n *Node) showLinks(out *fuse.Attr) {
	count, paths := n.fs.ids.Names(&n.id)
	out.Nlink = max(out.Nlink, uint32(count))
	for _, p := range paths {
		if k, ok := n.fs.links.Get(p); ok {
			out.Nlink = max(out.Nlink, k)
		}
	}
}

// goneIfMissing retires n when the server answered a request by its path
// with "no such file": another client, or a change whose answer a lost
// connection took (a rename that happened), removed it. The kernel, which
// still holds the name, then looks it up again instead of failing every
// open of it until its entry times out. asked is the path the request
// used: a node renamed meanwhile (through the mount) is not at it any
// more, and stays. err is returned unchanged.
func (n *Node) goneIfMissing(asked string, err error) error {
	if err != nil && errnoOf(err) == syscall.ENOENT && !n.IsRoot() {
		rel := n.rel()
		if rel != asked {
			return err
		}
		n.fs.forget(rel) // its cached attributes would bring it back
		n.fs.removed(rel)
		n.retire()
	}
	return err
}

// retire gives up a node whose object the server no longer has at its
// name (the type changed): it leaves the tree, so requests by its path
// fail with ENOENT as an unlinked file's would, and the kernel is told to
// look the name up again.
func (n *Node) retire() {
	name, parent := n.Parent()
	if parent == nil {
		return
	}
	parent.Operations().(*Node).dropName(name)
	parent.RmChild(name)
	// The kernel may hold locks on the directory while it waits for the
	// request being served (then the notice goes once it has returned).
	// Usually it holds none (open, stat): the notice is waited for a
	// moment, so the application's next call already looks the name up.
	told := n.fs.notify.send(func() { parent.NotifyEntry(name) })
	select {
	case <-told:
	case <-time.After(100 * time.Millisecond):
	}
}

// otherNames are the paths, other than name in n, at which the node at
// name is known (hard links made through the mount, or found to be one
// node).
func (n *Node) otherNames(name string) []string {
	return n.fs.ids.OtherPaths(n.placeOf(name))
}

// nodeAt is the node at rel, if the kernel holds one: the walk from the
// root through go-fuse's tree.
func (f *FS) nodeAt(rel string) *Node {
	if f.root == nil {
		return nil // not mounted (tests)
	}
	in := &f.root.Inode
	if rel != "" {
		for _, c := range strings.Split(rel, "/") {
			if in = in.GetChild(c); in == nil {
				return nil
			}
		}
	}
	node, _ := in.Operations().(*Node)
	return node
}

// notifier owns what the mount tells the kernel off the request path:
// handing back nodes of huge directories (the shed loop, shed.go) and
// single notices (a retired node, names joined into one node). stop ends
// the loop and waits for every notice sent.
type notifier struct {
	mu      sync.Mutex // guards started, stopped
	started bool
	stopped bool
	kick    chan struct{} // a directory's queue is longer than it should be
	quit    chan struct{} // closed by stop
	wg      sync.WaitGroup
	shed    func() // one round of handing back (FS.shedOnce)
}

func (k *notifier) init(shed func()) {
	k.kick, k.quit, k.shed = make(chan struct{}, 1), make(chan struct{}), shed
}

// send runs notice off the request path; the channel is closed once it
// has returned. After stop it is not run.
func (k *notifier) send(notice func()) <-chan struct{} {
	done := make(chan struct{})
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		close(done)
		return done
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer close(done)
		notice()
	}()
	return done
}

// kickShed wakes the shed loop, started the first time.
func (k *notifier) kickShed() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	if !k.started {
		k.started = true
		k.wg.Add(1)
		go k.shedLoop()
	}
	k.mu.Unlock()
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

func (k *notifier) shedLoop() {
	defer k.wg.Done()
	for {
		select {
		case <-k.kick:
			k.shed()
		case <-k.quit:
			return
		}
	}
}

// stop ends the shed loop and waits for it and for every notice sent;
// nothing is sent after. FS.Close calls it once the kernel no longer
// sends requests (a notice to an unmounted kernel returns at once).
func (k *notifier) stop() {
	k.mu.Lock()
	if !k.stopped {
		k.stopped = true
		close(k.quit)
	}
	k.mu.Unlock()
	k.wg.Wait()
}

// stopIdentity ends every goroutine identity started: the batches of
// names asked about in the background (objects.go), then the shed loop
// and the notices sent off the request path, which an answer may send.
// FS.Close calls it once the kernel has unmounted.
func (f *FS) stopIdentity() {
	f.objects.stop()
	f.notify.stop()
}
