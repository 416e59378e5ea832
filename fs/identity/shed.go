package identity

import "syscall"

// The per-directory bound on nodes. The kernel keeps a node for every
// name it has looked up or been given by a readdirplus until memory runs
// short; once a directory holds more than dirNodes live nodes, the mount
// hands back the older ones that nothing holds open, down to half of
// dirNodes (fs's shed.go says why and how). The table keeps, for each
// directory past its bound, the names given nodes there, oldest first
// (those it held when it passed the bound count as older than any made
// since, in no order among themselves). The queue holds names, not
// nodes: a node forgotten meanwhile is not kept alive by it.

// ShedBatch is how many names a queue grows past half of dirNodes before
// a handing back is due (node ids per NOTIFY_PRUNE).
const ShedBatch = 256

// queueShed queues at, just given a new node, once its directory holds
// more than dirNodes; the first time, after every name it then holds. It
// reports whether a queue is long enough to be handed back. Caller holds
// mu.
func (t *Table[N]) queueShed(at Place) bool {
	dir := at.Dir
	if t.perDir[dir] <= t.dirNodes {
		return false
	}
	if t.shedQ == nil {
		t.shedQ = map[uint64][]string{}
	}
	q, queued := t.shedQ[dir]
	if !queued {
		q = make([]string, 0, t.perDir[dir])
		for p := range t.byPlace {
			if p.Dir == dir && p.Name != at.Name {
				q = append(q, p.Name)
			}
		}
	}
	t.shedQ[dir] = append(q, at.Name)
	return len(t.shedQ[dir]) > t.dirNodes/2+ShedBatch
}

// Shed are the older nodes of one directory, to be handed back.
type Shed[N any] struct {
	Dir   N
	Nodes []N
	Names []string
	Held  int // the directory's nodes when they were taken
}

// TakeShed takes from each queue all but its keep newest names (keep is
// half of dirNodes), and returns those that still name a node that is
// not a directory, with the directory's node.
func (t *Table[N]) TakeShed() []Shed[N] {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := t.dirNodes / 2
	var out []Shed[N]
	for ino, q := range t.shedQ {
		if len(q) <= keep {
			continue
		}
		cut := len(q) - keep
		old := q[:cut]
		t.shedQ[ino] = append([]string(nil), q[cut:]...)
		if e := t.byIno[ino]; ino != Root && (e == nil || e.forgotten) {
			continue
		}
		dir, _ := t.node(ino)
		s := Shed[N]{Dir: dir, Held: t.perDir[ino]}
		for _, name := range old {
			e := t.byPlace[Place{ino, name}]
			if e == nil || e.mode == syscall.S_IFDIR {
				continue
			}
			s.Nodes = append(s.Nodes, e.node)
			s.Names = append(s.Names, name)
		}
		out = append(out, s)
	}
	return out
}
