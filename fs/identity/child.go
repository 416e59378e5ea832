package identity

import "github.com/sftpmount/sftpmount/remote"

// Child is a name just looked up or created, to be given a node.
type Child struct {
	At     Place
	Mode   uint32        // the S_IFMT bits
	Obj    remote.Object // which file the server said it is, if asked (objects.go)
	Linked bool          // a regular file with more than one link
	Look   Look          // its look, when Linked
	// Fresh says the server has just made the object (mkdir, symlink,
	// an exclusive create): a node still held for the name belongs to
	// an object that is gone.
	Fresh bool
	// Want is its inode number on the server, where a bulk answer told
	// it (0: not known): the number its node gets, if free (wanted).
	Want uint64
}

// Answers are what the server said, within the attribute timeout, of
// paths: which file each is, the zero Object where it said nothing. A
// decision that needs a path not in it asks for it (Result.Ask).
type Answers map[string]remote.Object

// Made is a node made for Result.Ino and Result.Gen, handed to Child to
// be recorded.
type Made[N any] struct {
	Entry    *Entry[N] // the node's Entry
	Node     N
	Ino, Gen uint64 // as the node was made with
}

// Result is what Child decided: Node, when Found; else the paths it
// needs answers for (Ask), or the number a new node gets (Ino, Gen), to
// be made and handed to Child again.
type Result[N any] struct {
	Node     N
	Found    bool
	Ask      []string
	Ino, Gen uint64
	// Shed says a directory past its bound has names queued to be
	// handed back to the kernel (shed.go).
	Shed bool
}

// Child decides the node for c: the live node at its name if it is the
// same object, a live node the server said c is one file with, or made,
// a new node, recorded at its name. Called with made nil, it answers a
// new object with the number to make its node with; called again with
// that node, it records it, or, if the table changed meanwhile, answers
// again (made is then not used).
func (t *Table[N]) Child(c Child, answers Answers, made *Made[N]) Result[N] {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := c.At
	old := t.byPlace[at]
	if old != nil && !c.Fresh && old.mode == c.Mode && !twoFiles(old.obj, c.Obj, len(old.places)) {
		if c.Obj.Known() && old.obj != c.Obj && (!old.obj.Known() || sameKind(old.obj, c.Obj)) && t.byObj[c.Obj] == nil {
			t.know(old, c.Obj) // the newest answer: what joins compare with
		}
		if c.Linked {
			t.addLook(old, c.Look)
		}
		return Result[N]{Node: old.node, Found: true}
	}
	// Every answer the choice below may need, before anything changes.
	if c.Obj.Known() {
		if ask := t.asks(answers, t.mayJoin(c)...); len(ask) > 0 {
			return Result[N]{Ask: ask}
		}
	}
	if old != nil {
		t.unplace(old, at) // go-fuse replaces it in the tree: the old cwd or handle sees ENOENT
	}
	key := at
	if c.Obj.Known() {
		other := t.byObj[c.Obj]
		if other == nil {
			// A node made before anyone asked: the server said of each
			// of its names that it is obj.
			for _, e := range t.byLook[c.Look] {
				if e.mode == c.Mode && t.joins(e, c.Obj, answers) {
					t.know(e, c.Obj)
					other = e
					break
				}
			}
		}
		if other != nil && other.mode == c.Mode && t.joins(other, c.Obj, answers) {
			t.setPlace(other, at) // a name the server linked: the same node
			return Result[N]{Node: other.node, Found: true}
		}
		key = objectKey(c.Obj)
	}
	ino, gen := t.wanted(c.Want, key)
	if made == nil || made.Ino != ino || made.Gen != gen {
		return Result[N]{Ino: ino, Gen: gen}
	}
	e := made.Entry
	*e = Entry[N]{node: made.Node, ino: ino, gen: gen, mode: c.Mode, displaced: t.byIno[ino], obj: c.Obj}
	t.byIno[ino] = e
	if c.Obj.Known() {
		t.byObj[c.Obj] = e
	}
	if c.Linked {
		t.addLook(e, c.Look)
	}
	t.setPlace(e, at)
	return Result[N]{Node: made.Node, Found: true, Shed: t.queueShed(at)}
}

// mayJoin are the live nodes Child may give c, which the server said is
// c.Obj. Caller holds mu.
func (t *Table[N]) mayJoin(c Child) []*Entry[N] {
	if e := t.byObj[c.Obj]; e != nil {
		return []*Entry[N]{e}
	}
	var out []*Entry[N]
	for _, e := range t.byLook[c.Look] {
		if e.mode == c.Mode {
			out = append(out, e)
		}
	}
	return out
}
