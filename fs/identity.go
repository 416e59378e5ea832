package fs

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"path"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// Identity. SFTP v3 has no inode numbers, yet the kernel, a shell's cwd,
// git's index and `find`'s loop check all tell objects apart by them.
// go-fuse gives back the live *Inode for a StableAttr it already holds,
// so the kernel keeps its dentry (and whatever holds it) only when a
// lookup answers with the same (type, Ino, Gen). Every node's number is
// therefore chosen here:
//
//   - a name that already has a live node of the same type gets that node,
//     after any cache timeout, readdir or reconnect (the table below is
//     the authority, not the kernel's dentry cache);
//   - a new node gets inoOf(parent's number, name, 0): the same path gets
//     the same number after a remount, so an unchanged tree looks
//     unchanged to git, rsync --link-dest and backup tools. A number
//     already held by a live node (a renamed file, an unlinked file still
//     open, a hash collision) is skipped for the next probe, so numbers
//     are unique among the nodes anything can reach;
//   - a rename moves the node (go-fuse moves it in the tree): it keeps its
//     number, and so does everything under a moved directory, because a
//     child's number derives from its parent's number, not its path;
//   - a link made through the mount is the same node under two names;
//   - a name whose type changed on the server, or that the server no
//     longer has, loses its node: the next lookup makes a new one.
//
// Gen counts how often a number was given again while an earlier holder
// still lived (see freeIno); a number whose holder was forgotten starts
// again at 0, as no kernel reference to the old object is left.
//
// Entries are dropped when go-fuse forgets the node (OnForget), so the
// table holds only what the kernel still references.
type identities struct {
	mu        sync.Mutex              // guards byIno, byPlace and every Node's places, displaced, forgotten
	byIno     map[uint64]*Node        // every live node but the root, by number
	byPlace   map[place]*Node         // the node at each name the tree holds
	byObj     map[remote.Object]*Node // nodes of files the server said which they are (objects.go)
	byLook    map[look][]*Node        // nodes of regular files with links whose Object nobody asked, by their look (objects.go)
	lookKnown map[look]int            // and those whose Object is known, counted
	perDir    map[uint64]int          // names byPlace holds in each directory, by its number (shed.go)
	shedQ     map[uint64][]string     // per directory past dir_nodes, its names given nodes since, oldest first (shed.go)
	peak      int                     // the most names byPlace held since it was last made anew
}

// place is a name in a directory, the directory by its inode number.
type place struct {
	dir  uint64
	name string
}

func newIdentities() identities {
	return identities{byIno: map[uint64]*Node{}, byPlace: map[place]*Node{}, byObj: map[remote.Object]*Node{}, byLook: map[look][]*Node{}, lookKnown: map[look]int{}, perDir: map[uint64]int{}}
}

// inoOf is the number a new object at name in directory dir gets on its
// probe-th try: a 64-bit FNV-1a hash kept below 2^63 (go-fuse's automatic
// numbers start there) and above 1 (0 is no number, 1 is the root).
func inoOf(dir uint64, name string, probe uint64) uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], dir)
	binary.LittleEndian.PutUint64(b[8:], probe)
	h.Write(b[:])
	h.Write([]byte(name))
	ino := h.Sum64() &^ (1 << 63)
	if ino <= fuse.FUSE_ROOT_ID {
		ino += 2
	}
	return ino
}

// freeIno is the first probe of at that no live node holds, or that only
// a dying node holds: one without a name (unlinked, retired) and without
// an open file, which nothing can reach but the kernel's FORGET, on its
// way. The number is then given again under the next Gen, so go-fuse and
// the kernel keep the two apart, and a file removed and made again (tar
// over a tree, git checkout) keeps its path's number for the next mount.
// Caller holds mu.
func (t *identities) freeIno(at place) (ino, gen uint64) {
	for probe := uint64(0); ; probe++ {
		ino = inoOf(at.dir, at.name, probe)
		holder := t.byIno[ino]
		if holder == nil {
			return ino, 0
		}
		if len(holder.places) == 0 && holder.StableAttr().Mode != syscall.S_IFDIR && !holder.hasHandles() {
			return ino, t.maxGen(holder) + 1
		}
	}
}

// maxGen is the highest Gen of n and the live holders it displaced: a
// new one must differ from all of them. Caller holds mu.
func (t *identities) maxGen(n *Node) uint64 {
	gen := n.StableAttr().Gen
	for p := n.displaced; p != nil; p = p.displaced {
		if !p.forgotten && p.StableAttr().Gen > gen {
			gen = p.StableAttr().Gen
		}
	}
	return gen
}

// number is the inode number a listing shows for name in dir: its live
// node's when it has one of that type (live then), else the one a lookup
// would give. obj is which file the server said it is, if known: a file
// with links whose answer has not come yet shows its path's number in
// this listing, and its Object's from the lookup on (objects.go).
func (t *identities) number(dir uint64, name string, mode uint32, obj remote.Object) (ino uint64, live bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := place{dir, name}
	if n := t.byPlace[at]; n != nil && n.StableAttr().Mode == mode && (!obj.Known() || !n.obj.Known() || n.obj == obj) {
		return n.StableAttr().Ino, true
	}
	if obj.Known() {
		if n := t.byObj[obj]; n != nil && n.StableAttr().Mode == mode {
			return n.StableAttr().Ino, false
		}
		ino, _ = t.freeIno(objectKey(obj))
		return ino, false
	}
	ino, _ = t.freeIno(at)
	return ino, false
}

// unplace drops n's name at. Caller holds mu.
func (t *identities) unplace(n *Node, at place) {
	if t.byPlace[at] == n {
		delete(t.byPlace, at)
		if t.perDir[at.dir]--; t.perDir[at.dir] <= 0 {
			delete(t.perDir, at.dir)
			delete(t.shedQ, at.dir)
		}
		t.shrink()
	}
	for i, p := range n.places {
		if p == at {
			n.places = append(n.places[:i], n.places[i+1:]...)
			break
		}
	}
}

// shrink makes the tables anew once they hold a quarter of their peak:
// a Go map keeps the room of the most it held, and a directory of a
// million names would leave the room of every node it ever had (the
// nodes themselves go back to the kernel, see shed.go). Caller holds mu.
func (t *identities) shrink() {
	if t.peak < 4096 || len(t.byPlace) >= t.peak/4 {
		return
	}
	byPlace := make(map[place]*Node, len(t.byPlace))
	for k, v := range t.byPlace {
		byPlace[k] = v
	}
	byIno := make(map[uint64]*Node, len(t.byIno))
	for k, v := range t.byIno {
		byIno[k] = v
	}
	t.byPlace, t.byIno, t.peak = byPlace, byIno, len(byPlace)
}

// setPlace puts n at at, taking the name from whatever held it. Caller
// holds mu.
func (t *identities) setPlace(n *Node, at place) {
	if old := t.byPlace[at]; old != nil && old != n {
		t.unplace(old, at)
	}
	if t.byPlace[at] == nil {
		t.perDir[at.dir]++
	}
	t.byPlace[at] = n
	t.peak = max(t.peak, len(t.byPlace))
	for _, p := range n.places {
		if p == at {
			return
		}
	}
	n.places = append(n.places, at)
}

// newChild returns the node for name, just looked up or created with
// attributes a, and fills out. fresh says the server has just made the
// object (mkdir, symlink, an exclusive create): a node still held for the
// name belongs to an object that is gone.
func (n *Node) newChild(ctx context.Context, name string, a remote.Attr, fresh bool, out *fuse.EntryOut) *fusefs.Inode {
	rel := n.child(name)
	n.fs.fillEntry(rel, a, out)
	mode := sysMode(a.Mode) & syscall.S_IFMT
	obj := n.fs.knownObject(rel, a) // which file the server said it is, if asked (objects.go)
	linked, lk := hasLinks(n.fs.withLinks(rel, a)), lookOf(a)
	t := &n.fs.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	at := place{n.StableAttr().Ino, name}
	if old := t.byPlace[at]; old != nil {
		same := !obj.Known() || !old.obj.Known() || old.obj == obj
		if !fresh && old.StableAttr().Mode == mode && same {
			if obj.Known() && !old.obj.Known() && t.byObj[obj] == nil {
				t.know(old, obj)
			}
			if linked {
				t.addLook(old, lk)
			}
			old.showLinksLocked(&out.Attr)
			return &old.Inode
		}
		t.unplace(old, at) // go-fuse replaces it in the tree: the old cwd or handle sees ENOENT
	}
	key := at
	if obj.Known() {
		other := t.byObj[obj]
		if other == nil {
			// A node made before anyone asked: the server said of each
			// of its names that it is obj.
			for _, c := range t.byLook[lk] {
				if c.StableAttr().Mode == mode && n.fs.joins(c, obj) {
					t.know(c, obj)
					other = c
					break
				}
			}
		}
		if other != nil && other.StableAttr().Mode == mode && n.fs.joins(other, obj) {
			t.setPlace(other, at) // a name the server linked: the same node
			other.showLinksLocked(&out.Attr)
			return &other.Inode
		}
		key = objectKey(obj)
	}
	ino, gen := t.freeIno(key)
	child := &Node{fs: n.fs, displaced: t.byIno[ino], obj: obj}
	ch := n.NewInode(ctx, child, fusefs.StableAttr{Mode: mode, Ino: ino, Gen: gen})
	t.byIno[ino] = child
	if obj.Known() {
		t.byObj[obj] = child
	}
	if linked {
		t.addLook(child, lk)
	}
	t.setPlace(child, at)
	n.fs.queueShed(at.dir, name)
	return ch
}

// OnForget drops the node from the table once the kernel and the tree no
// longer hold it.
func (n *Node) OnForget() {
	t := &n.fs.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(n.places) > 0 {
		t.unplace(n, n.places[0])
	}
	n.forgotten = true
	if n.obj.Known() && t.byObj[n.obj] == n {
		delete(t.byObj, n.obj)
	}
	t.dropLook(n)
	if ino := n.StableAttr().Ino; t.byIno[ino] == n {
		// A dying holder this one displaced may outlive it: the number
		// stays taken, at its Gen, until that one is forgotten too.
		prev := n.displaced
		for prev != nil && prev.forgotten {
			prev = prev.displaced
		}
		if prev != nil {
			t.byIno[ino] = prev
		} else {
			delete(t.byIno, ino)
		}
	}
	n.displaced = nil
}

// linked records a second name for n, made through the mount.
func (f *FS) linked(n *Node, dir *Node, name string) {
	f.ids.mu.Lock()
	defer f.ids.mu.Unlock()
	f.ids.setPlace(n, place{dir.StableAttr().Ino, name})
}

// dropName drops the node at name in n, after an unlink or rmdir through
// the mount or when the server no longer has it: the name's next object
// is another one.
func (n *Node) dropName(name string) {
	t := &n.fs.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	at := place{n.StableAttr().Ino, name}
	if old := t.byPlace[at]; old != nil {
		t.unplace(old, at)
	}
}

// moved follows a rename through the mount: the node keeps its number at
// its new name, and whatever the new name held loses it.
func (f *FS) moved(from *Node, name string, to *Node, newName string) {
	t := &f.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	src := place{from.StableAttr().Ino, name}
	dst := place{to.StableAttr().Ino, newName}
	n := t.byPlace[src]
	if old := t.byPlace[dst]; old != nil {
		t.unplace(old, dst)
	}
	if n != nil {
		t.unplace(n, src)
		t.setPlace(n, dst)
	}
}

// showLinks sets st_nlink to at least the names this mount knows the
// node by (more than one only for links made through the mount). The
// count itself comes from the last listing of the node's directory
// (OpenSSH's long names); SFTP v3's attributes carry none, so where no
// listing has told, or since the attributes were fetched again by name,
// it is those names, 1 for a file or directory known by one.
func (n *Node) showLinks(out *fuse.Attr) {
	n.fs.ids.mu.Lock()
	defer n.fs.ids.mu.Unlock()
	n.showLinksLocked(out)
}

// A node with several names shows the largest count a listing told of
// any of them: a name met by lstat alone (no count) and found to be one
// file with a listed name shows the listed count.
func (n *Node) showLinksLocked(out *fuse.Attr) {
	out.Nlink = max(out.Nlink, uint32(len(n.places)))
	if len(n.places) > 1 {
		for _, p := range n.fs.ids.pathsOf(n) {
			if k, ok := n.fs.links.Get(p); ok {
				out.Nlink = max(out.Nlink, k)
			}
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
	told := make(chan struct{})
	go func() {
		parent.NotifyEntry(name)
		close(told)
	}()
	select {
	case <-told:
	case <-time.After(100 * time.Millisecond):
	}
}

// otherNames are the paths, other than name in n, at which the node at
// name is known (hard links made through the mount, or found to be one
// node), whose directories have live nodes.
func (n *Node) otherNames(name string) []string {
	t := &n.fs.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	child := t.byPlace[place{n.StableAttr().Ino, name}]
	if child == nil {
		return nil
	}
	var out []string
	for _, p := range child.places {
		if p == (place{n.StableAttr().Ino, name}) {
			continue
		}
		if dir := t.byIno[p.dir]; dir != nil {
			out = append(out, path.Join(dir.rel(), p.name))
		} else if p.dir == n.Root().StableAttr().Ino {
			out = append(out, p.name)
		}
	}
	return out
}
