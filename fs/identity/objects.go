package identity

import (
	"os"
	"strconv"
	"syscall"

	"github.com/sftpmount/sftpmount/remote"
)

// Names the server linked (fs's objects.go asks the server; this is what
// the table keeps of the answers). Names with the same Object are one
// node, with one inode number, as on a local disk. A regular file with
// links whose Object nobody asked is filed under its look (byLook), so
// that a look-alike met later is asked about along with it; one whose
// Object is known is counted under its look (lookKnown), so that a
// look-alike is asked about too (its links may have gone, or the name
// been given to another file).

// Look is what names of one file show alike.
type Look struct {
	size     uint64
	mtime    int64
	mode     os.FileMode
	uid, gid uint32
}

// LookOf is the look of a file with attributes a.
func LookOf(a remote.Attr) Look {
	return Look{a.Size, a.Mtime.Unix(), a.Mode, a.UID, a.GID}
}

// objectKey is the place an Object's node number is drawn from: a
// directory number no directory has (they stay below 2^63), and the
// Object's numbers as its name.
func objectKey(obj remote.Object) Place {
	return Place{^uint64(0), strconv.FormatUint(obj.Mount, 10) + ":" + strconv.FormatUint(obj.FS, 16) + ":" + strconv.FormatUint(obj.Ino, 10)}
}

// othersOfLook are the live nodes of regular files with links made with
// look lk whose Object nobody asked, but not. Caller holds mu.
func (t *Table[N]) othersOfLook(lk Look, not *Entry[N]) []*Entry[N] {
	var out []*Entry[N]
	for _, e := range t.byLook[lk] {
		if e != not {
			out = append(out, e)
		}
	}
	return out
}

// knownOfLook reports whether a live node of look lk whose Object is
// known, other than not, exists. Caller holds mu.
func (t *Table[N]) knownOfLook(lk Look, not *Entry[N]) bool {
	k := t.lookKnown[lk]
	if not != nil && not.lookKnown && not.look == lk {
		k--
	}
	return k > 0
}

// twoFiles reports whether the server said a and b are two files, where
// a is what a node with names names is known as: both are Identify's
// answers (remote.Identify: the very file each name opened) and differ,
// or both are a bulk answer's (find's device and inode number,
// remote.FindObject), differ, and the node has more than one name (a
// name the server linked elsewhere, then replaced: it leaves the
// others). A bulk answer's never parts a node from its only name: the
// number changes under a file our own upload replaced by a rename, and a
// node parted from an open file would have the kernel read a second
// inode, with the server's size and not the writes on their way. Such a
// name replaced by another client keeps its node, as it did before bulk
// answers, and shows the new file's size and times. Objects of the two
// kinds are not compared.
func twoFiles(a, b remote.Object, names int) bool {
	if !a.Known() || !b.Known() || a == b || !sameKind(a, b) {
		return false
	}
	return a.Mount != remote.FindMount || names > 1
}

// sameKind reports whether a and b were found the same way (both by
// Identify, or both by a bulk answer): only then does the newer replace
// the older as what joins compare with.
func sameKind(a, b remote.Object) bool {
	return (a.Mount == remote.FindMount) == (b.Mount == remote.FindMount)
}

// know records that e is obj (instead of what it was known as, if
// anything). Caller holds mu.
func (t *Table[N]) know(e *Entry[N], obj remote.Object) {
	if e.obj.Known() && t.byObj[e.obj] == e {
		delete(t.byObj, e.obj)
	}
	e.obj, t.byObj[obj] = obj, e
	if e.hasLook {
		lk := e.look
		t.dropLook(e)
		t.addLook(e, lk)
	}
}

// addLook files e, a regular file with links, under its look: in byLook
// while its Object is not known, counted in lookKnown once it is. Caller
// holds mu.
func (t *Table[N]) addLook(e *Entry[N], lk Look) {
	if e.hasLook || e.lookKnown {
		return
	}
	e.look = lk
	if e.obj.Known() {
		e.lookKnown = true
		t.lookKnown[lk]++
		return
	}
	e.hasLook = true
	t.byLook[lk] = append(t.byLook[lk], e)
}

// dropLook takes e from byLook or lookKnown. Caller holds mu.
func (t *Table[N]) dropLook(e *Entry[N]) {
	if e.lookKnown {
		if t.lookKnown[e.look]--; t.lookKnown[e.look] <= 0 {
			delete(t.lookKnown, e.look)
		}
		e.lookKnown = false
	}
	if !e.hasLook {
		return
	}
	es := t.byLook[e.look]
	for i, c := range es {
		if c == e {
			es = append(es[:i], es[i+1:]...)
			break
		}
	}
	if len(es) == 0 {
		delete(t.byLook, e.look)
	} else {
		t.byLook[e.look] = es
	}
	e.hasLook = false
}

// joins reports whether a name of obj may be given e's node: it has
// names, and the server said of each, within the attribute timeout, that
// it is obj. Caller holds mu.
func (t *Table[N]) joins(e *Entry[N], obj remote.Object, answers Answers) bool {
	paths := t.pathsOf(e, nil)
	if len(paths) == 0 || len(paths) != len(e.places) {
		return false
	}
	for _, p := range paths {
		if got, ok := answers[p]; !ok || got != obj {
			return false
		}
	}
	return true
}

// asks are those of the paths of es not in answers. Caller holds mu.
func (t *Table[N]) asks(answers Answers, es ...*Entry[N]) []string {
	var out []string
	for _, e := range es {
		for _, p := range t.pathsOf(e, nil) {
			if _, ok := answers[p]; !ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// Kin is what the table holds of a listed or looked-up file's
// look-alikes (Kinship).
type Kin struct {
	Live    bool     // its name has a live node
	Known   bool     // whose Object is known
	Others  int      // live nodes of its look whose Object nobody asked, its own not counted
	Paths   []string // their paths
	KnownOf bool     // a live node of its look whose Object is known, other than its own
}

// Kinship is what the table holds of the file of look lk at at (a
// directory that has no live node: dirLive false).
func (t *Table[N]) Kinship(at Place, dirLive bool, lk Look) Kin {
	t.mu.Lock()
	defer t.mu.Unlock()
	var e *Entry[N]
	if dirLive {
		e = t.byPlace[at]
	}
	k := Kin{Live: e != nil, Known: e != nil && e.obj.Known(), KnownOf: t.knownOfLook(lk, e)}
	for _, c := range t.othersOfLook(lk, e) {
		k.Others++
		k.Paths = append(k.Paths, t.pathsOf(c, nil)...)
	}
	return k
}

// ObjectPaths are the paths of the node of obj, if it has one.
func (t *Table[N]) ObjectPaths(obj remote.Object) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.byObj[obj]; e != nil {
		return t.pathsOf(e, nil)
	}
	return nil
}

// Join is a name the server has just said is Obj.
type Join struct {
	At     Place
	Obj    remote.Object
	Look   Look
	Linked bool // a regular file with links
}

// Joined is what Join changed: the names the kernel must forget (their
// node took another's), and the nodes whose attributes it must fetch
// again (their link count changed); or the answers it needs first.
type Joined[N any] struct {
	Forget  []Name[N]
	Refresh []N
	Ask     []string
}

// Name is a name in a directory, the directory by its node.
type Name[N any] struct {
	Dir  N
	Name string
}

// Join makes the live node at j.At, which the server has just said is
// j.Obj, one node with the node that Object already has, whatever the
// order the kernel met them in: a name stat'ed or opened before any
// listing told its count got a node of its own, and the kernel still
// holds it. The node the Object already has, or else this one, keeps its
// number and takes the other's names. A node with an open file keeps its
// names. Only names each of whose node's names the server said are that
// file are joined (joins).
func (t *Table[N]) Join(j Join, answers Answers) Joined[N] {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out Joined[N]
	n := t.byPlace[j.At]
	if n == nil || n.mode != syscall.S_IFREG || (n.obj.Known() && n.obj != j.Obj) {
		return out
	}
	one := t.byObj[j.Obj]
	if one == nil || one.forgotten {
		if out.Ask = t.asks(answers, n); len(out.Ask) > 0 {
			return out
		}
		if !t.joins(n, j.Obj, answers) {
			return out
		}
		t.know(n, j.Obj)
		if j.Linked {
			t.addLook(n, j.Look) // a name met later and alone is asked about
		}
		out.Refresh = append(out.Refresh, n.node)
		return out
	}
	if n == one || n.open > 0 {
		return out
	}
	if out.Ask = t.asks(answers, n, one); len(out.Ask) > 0 {
		return out
	}
	if !t.joins(n, j.Obj, answers) || !t.joins(one, j.Obj, answers) {
		return out
	}
	for len(n.places) > 0 {
		at := n.places[0]
		t.unplace(n, at)
		t.setPlace(one, at)
		if dir, ok := t.node(at.Dir); ok {
			out.Forget = append(out.Forget, Name[N]{dir, at.Name})
		}
	}
	t.dropLook(n)
	out.Refresh = append(out.Refresh, one.node)
	return out
}
