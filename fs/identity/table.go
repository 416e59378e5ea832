package identity

import (
	"encoding/binary"
	"hash/fnv"
	"sync"
	"syscall"

	"github.com/sftpmount/sftpmount/remote"
)

// Root is the root node's number: FUSE_ROOT_ID, as the mount sets it
// (fusefs.Options.RootStableAttr). The root has no Entry in the table.
const Root = 1

// Table is the identity of every live node of one mount.
type Table[N any] struct {
	mu        sync.Mutex                  // guards every field below and every Entry's fields
	root      N                           // the root's node, returned for Root
	byIno     map[uint64]*Entry[N]        // every live node but the root, by number
	byPlace   map[Place]*Entry[N]         // the node at each name the tree holds
	byObj     map[remote.Object]*Entry[N] // nodes of files the server said which they are (objects.go)
	byLook    map[Look][]*Entry[N]        // nodes of regular files with links whose Object nobody asked, by their look (objects.go)
	lookKnown map[Look]int                // and those whose Object is known, counted
	perDir    map[uint64]int              // names byPlace holds in each directory, by its number (shed.go)
	shedQ     map[uint64][]string         // per directory past dirNodes, its names given nodes since, oldest first (shed.go)
	peak      int                         // the most names byPlace held since it was last made anew
	dirNodes  int                         // the per-directory bound (shed.go)
}

// Entry is a node's identity, embedded in the node; only the Table
// touches its fields, under its lock.
type Entry[N any] struct {
	node      N
	ino, gen  uint64
	mode      uint32        // the S_IFMT bits
	places    []Place       // the names the node has in the tree
	displaced *Entry[N]     // the dying node that held its number before it
	forgotten bool          // the kernel and the tree no longer hold it
	open      int           // files open on it (Opened)
	obj       remote.Object // which file the server said it is, if it did (objects.go)
	look      Look          // a regular file with links: its look when made (objects.go)
	hasLook   bool          // filed in byLook (its Object not known)
	lookKnown bool          // counted in lookKnown (its Object known)
}

// Place is a name in a directory, the directory by its inode number.
type Place struct {
	Dir  uint64
	Name string
}

// New returns an empty table whose directories each keep at most
// dirNodes nodes before their older names are queued to be handed back
// (shed.go).
func New[N any](dirNodes int) *Table[N] {
	return &Table[N]{byIno: map[uint64]*Entry[N]{}, byPlace: map[Place]*Entry[N]{}, byObj: map[remote.Object]*Entry[N]{},
		byLook: map[Look][]*Entry[N]{}, lookKnown: map[Look]int{}, perDir: map[uint64]int{}, dirNodes: dirNodes}
}

// SetRoot records the root's node, which Root stands for.
func (t *Table[N]) SetRoot(root N) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.root = root
}

// InoOf is the number a new object at name in directory dir gets on its
// probe-th try: a 64-bit FNV-1a hash kept below 2^63 (go-fuse's automatic
// numbers start there) and above 1 (0 is no number, 1 is the root).
func InoOf(dir uint64, name string, probe uint64) uint64 {
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], dir)
	binary.LittleEndian.PutUint64(b[8:], probe)
	h.Write(b[:])
	h.Write([]byte(name))
	ino := h.Sum64() &^ (1 << 63)
	if ino <= Root {
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
func (t *Table[N]) freeIno(at Place) (ino, gen uint64) {
	for probe := uint64(0); ; probe++ {
		ino = InoOf(at.Dir, at.Name, probe)
		holder := t.byIno[ino]
		if holder == nil {
			return ino, 0
		}
		if len(holder.places) == 0 && holder.mode != syscall.S_IFDIR && holder.open == 0 {
			return ino, t.maxGen(holder) + 1
		}
	}
}

// maxGen is the highest Gen of e and the live holders it displaced: a
// new one must differ from all of them. Caller holds mu.
func (t *Table[N]) maxGen(e *Entry[N]) uint64 {
	gen := e.gen
	for p := e.displaced; p != nil; p = p.displaced {
		if !p.forgotten && p.gen > gen {
			gen = p.gen
		}
	}
	return gen
}

// Number is the inode number a listing shows for name in dir: its live
// node's when it has one of that type (live then), else the one a lookup
// would give. obj is which file the server said it is, if known: a file
// with links whose answer has not come yet shows its path's number in
// this listing, and its Object's from the lookup on (objects.go).
func (t *Table[N]) Number(dir uint64, name string, mode uint32, obj remote.Object) (ino uint64, live bool) {
	return t.NumberWant(dir, name, mode, obj, 0)
}

// NumberWant is Number for a name whose inode number on the server is
// want (0: not known), the number its node is given if free (Wanted).
func (t *Table[N]) NumberWant(dir uint64, name string, mode uint32, obj remote.Object, want uint64) (ino uint64, live bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := Place{dir, name}
	if e := t.byPlace[at]; e != nil && e.mode == mode && !twoFiles(e.obj, obj, len(e.places)) {
		return e.ino, true
	}
	if obj.Known() {
		if e := t.byObj[obj]; e != nil && e.mode == mode {
			return e.ino, false
		}
		ino, _ = t.wanted(want, objectKey(obj))
		return ino, false
	}
	ino, _ = t.wanted(want, at)
	return ino, false
}

// wanted is want, the server's inode number of a file, if no live node
// holds it or only a dying one does (as freeIno), else freeIno(at): a
// file keeps the server's number on every mount, and two files of the
// same number on two filesystems of the server (btrfs subvolumes) get
// two. Caller holds mu.
func (t *Table[N]) wanted(want uint64, at Place) (ino, gen uint64) {
	if want > Root {
		holder := t.byIno[want]
		if holder == nil {
			return want, 0
		}
		if len(holder.places) == 0 && holder.mode != syscall.S_IFDIR && holder.open == 0 {
			return want, t.maxGen(holder) + 1
		}
	}
	return t.freeIno(at)
}

// unplace drops e's name at. Caller holds mu.
func (t *Table[N]) unplace(e *Entry[N], at Place) {
	if t.byPlace[at] == e {
		delete(t.byPlace, at)
		if t.perDir[at.Dir]--; t.perDir[at.Dir] <= 0 {
			delete(t.perDir, at.Dir)
			delete(t.shedQ, at.Dir)
		}
		t.shrink()
	}
	for i, p := range e.places {
		if p == at {
			e.places = append(e.places[:i], e.places[i+1:]...)
			break
		}
	}
}

// shrink makes the tables anew once they hold a quarter of their peak:
// a Go map keeps the room of the most it held, and a directory of a
// million names would leave the room of every node it ever had (the
// nodes themselves go back to the kernel, see shed.go). Caller holds mu.
func (t *Table[N]) shrink() {
	if t.peak < 4096 || len(t.byPlace) >= t.peak/4 {
		return
	}
	byPlace := make(map[Place]*Entry[N], len(t.byPlace))
	for k, v := range t.byPlace {
		byPlace[k] = v
	}
	byIno := make(map[uint64]*Entry[N], len(t.byIno))
	for k, v := range t.byIno {
		byIno[k] = v
	}
	t.byPlace, t.byIno, t.peak = byPlace, byIno, len(byPlace)
}

// setPlace puts e at at, taking the name from whatever held it. Caller
// holds mu.
func (t *Table[N]) setPlace(e *Entry[N], at Place) {
	if old := t.byPlace[at]; old != nil && old != e {
		t.unplace(old, at)
	}
	if t.byPlace[at] == nil {
		t.perDir[at.Dir]++
	}
	t.byPlace[at] = e
	t.peak = max(t.peak, len(t.byPlace))
	for _, p := range e.places {
		if p == at {
			return
		}
	}
	e.places = append(e.places, at)
}

// Forget drops e from the table once the kernel and the tree no longer
// hold its node (go-fuse's OnForget).
func (t *Table[N]) Forget(e *Entry[N]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(e.places) > 0 {
		t.unplace(e, e.places[0])
	}
	e.forgotten = true
	if e.obj.Known() && t.byObj[e.obj] == e {
		delete(t.byObj, e.obj)
	}
	t.dropLook(e)
	if t.byIno[e.ino] == e {
		// A dying holder this one displaced may outlive it: the number
		// stays taken, at its Gen, until that one is forgotten too.
		prev := e.displaced
		for prev != nil && prev.forgotten {
			prev = prev.displaced
		}
		if prev != nil {
			t.byIno[e.ino] = prev
		} else {
			delete(t.byIno, e.ino)
		}
	}
	e.displaced = nil
}

// Link records a second name for e, made through the mount.
func (t *Table[N]) Link(e *Entry[N], at Place) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setPlace(e, at)
}

// Drop drops the node at at, after an unlink or rmdir through the mount
// or when the server no longer has it: the name's next object is another
// one.
func (t *Table[N]) Drop(at Place) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.byPlace[at]; old != nil {
		t.unplace(old, at)
	}
}

// Move follows a rename through the mount: the node keeps its number at
// its new name, and whatever the new name held loses it.
func (t *Table[N]) Move(src, dst Place) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byPlace[src]
	if old := t.byPlace[dst]; old != nil {
		t.unplace(old, dst)
	}
	if e != nil {
		t.unplace(e, src)
		t.setPlace(e, dst)
	}
}

// Opened counts a file opened on e (delta 1) or closed (-1): a dying node
// with an open file keeps its number (freeIno), and a node with one keeps
// its names when joined to another (Join).
func (t *Table[N]) Opened(e *Entry[N], delta int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e.open += delta
}

// Held is how many numbers and names the table holds: only what the
// kernel still references.
func (t *Table[N]) Held() (numbers, names int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byIno), len(t.byPlace)
}

// node is the live node numbered ino, the root included. Caller holds mu.
func (t *Table[N]) node(ino uint64) (n N, ok bool) {
	if ino == Root {
		return t.root, true
	}
	if e := t.byIno[ino]; e != nil {
		return e.node, true
	}
	return n, false
}
