package identity

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// node stands for fs's *Node: it embeds its Entry.
type node struct{ id Entry[*node] }

func newTable(dirNodes int) (*Table[*node], *node) {
	t := New[*node](dirNodes)
	root := &node{}
	t.SetRoot(root)
	return t, root
}

// give answers c as fs's newChild does: answering the table's questions,
// making the node it asks for, until it has decided.
func give(tb testing.TB, t *Table[*node], c Child, answers Answers) (n *node, made bool, shed bool) {
	tb.Helper()
	var m *Made[*node]
	for i := 0; i < 10; i++ {
		r := t.Child(c, answers, m)
		switch {
		case r.Found:
			return r.Node, m != nil && r.Node == m.Node, r.Shed
		case len(r.Ask) > 0:
			tb.Fatalf("%v: asks %q, not in the answers", c.At, r.Ask)
		default:
			n := &node{}
			m = &Made[*node]{Entry: &n.id, Node: n, Ino: r.Ino, Gen: r.Gen}
		}
	}
	tb.Fatalf("%v: no decision", c.At)
	return nil, false, false
}

func file(dir uint64, name string) Child {
	return Child{At: Place{dir, name}, Mode: syscall.S_IFREG}
}

func TestInoOfIsInOurRangeAndProbesDiffer(t *testing.T) {
	seen := map[uint64]bool{}
	for dir := uint64(1); dir < 50; dir++ {
		for i := 0; i < 200; i++ {
			for probe := uint64(0); probe < 2; probe++ {
				ino := InoOf(dir, fmt.Sprint(i), probe)
				if ino <= 1 || ino >= 1<<63 {
					t.Fatalf("InoOf(%d, %d, %d) = %d: outside 2..2^63", dir, i, probe, ino)
				}
				if seen[ino] {
					t.Fatalf("InoOf(%d, %d, %d) = %d: given twice", dir, i, probe, ino)
				}
				seen[ino] = true
			}
		}
	}
}

// Once the kernel has forgotten most nodes, the tables are made anew at
// their new size, and still give every remaining name its node and
// number.
func TestTheTablesAreMadeAnewWhenMostNodesAreForgotten(t *testing.T) {
	tab, _ := newTable(1 << 30)
	const names = 10000
	nodes := make([]*node, names)
	for i := range nodes {
		nodes[i], _, _ = give(t, tab, file(Root, fmt.Sprintf("n%d", i)), nil)
	}
	if tab.peak != names {
		t.Fatalf("peak %d, want %d", tab.peak, names)
	}
	for _, n := range nodes[:names-1000] {
		tab.Forget(&n.id)
	}
	if tab.peak >= names/4 || tab.peak < len(tab.byPlace) {
		t.Fatalf("after forgetting 9000 of %d nodes the peak is %d with %d names held: not made anew", names, tab.peak, len(tab.byPlace))
	}
	for i := names - 1000; i < names; i++ {
		n, _, _ := give(t, tab, file(Root, fmt.Sprintf("n%d", i)), nil)
		if n != nodes[i] || n.id.ino != nodes[i].id.ino {
			t.Fatalf("n%d: another node, or number %d, after the tables were made anew", i, n.id.ino)
		}
	}
	if n, _, _ := give(t, tab, file(Root, "n0"), nil); n.id.ino != nodes[0].id.ino {
		t.Fatalf("n0 given again: number %d, want %d", n.id.ino, nodes[0].id.ino)
	}
}

// A node keeps its number wherever its names go: renamed, linked, or
// under a renamed directory, and the paths the table gives follow.
func TestANumberStaysWithItsNodeAcrossPlaces(t *testing.T) {
	tab, _ := newTable(1 << 30)
	d, _, _ := give(t, tab, Child{At: Place{Root, "d"}, Mode: syscall.S_IFDIR}, nil)
	f, _, _ := give(t, tab, file(d.id.ino, "f"), nil)
	if d.id.ino != InoOf(Root, "d", 0) || f.id.ino != InoOf(d.id.ino, "f", 0) {
		t.Fatalf("numbers %d, %d: not derived from the path", d.id.ino, f.id.ino)
	}
	tab.Move(Place{Root, "d"}, Place{Root, "e"})
	tab.Link(&f.id, Place{Root, "g"})
	if again, made, _ := give(t, tab, file(d.id.ino, "f"), nil); again != f || made {
		t.Fatalf("f under the renamed directory: another node")
	}
	if ino, live := tab.Number(Root, "g", syscall.S_IFREG, remote.Object{}); ino != f.id.ino || !live {
		t.Fatalf("the link g lists number %d (live %v), f has %d", ino, live, f.id.ino)
	}
	count, paths := tab.Names(&f.id)
	if count != 2 || !slices.Equal(paths, []string{"e/f", "g"}) {
		t.Fatalf("f's names: %d %q, want e/f and g", count, paths)
	}
	if other := tab.OtherPaths(Place{Root, "g"}); !slices.Equal(other, []string{"e/f"}) {
		t.Fatalf("other names of g: %q", other)
	}
	// A directory without a name has no paths under it.
	tab.Drop(Place{Root, "e"})
	if _, paths := tab.Names(&f.id); !slices.Equal(paths, []string{"g"}) {
		t.Fatalf("f's paths once its directory lost its name: %q", paths)
	}
}

// A dying node (no name) keeps its number while a file is open on it:
// the name made again takes the next probe. Closed, the number is given
// again under the next Gen.
func TestADyingNodeWithAnOpenFileKeepsItsNumber(t *testing.T) {
	tab, _ := newTable(1 << 30)
	old, _, _ := give(t, tab, file(Root, "f"), nil)
	tab.Opened(&old.id, 1)
	tab.Drop(Place{Root, "f"})
	open, _, _ := give(t, tab, file(Root, "f"), nil)
	if open.id.ino != InoOf(Root, "f", 1) {
		t.Fatalf("made while the old one is open: number %d, not the next probe", open.id.ino)
	}
	tab.Opened(&old.id, -1)
	tab.Drop(Place{Root, "f"})
	tab.Forget(&open.id)
	again, _, _ := give(t, tab, file(Root, "f"), nil)
	if again.id.ino != old.id.ino || again.id.gen != old.id.gen+1 {
		t.Fatalf("made once the old one is closed: number %d gen %d, want %d gen %d", again.id.ino, again.id.gen, old.id.ino, old.id.gen+1)
	}
}

// A node made for a number the table has since given to another is not
// recorded: the decision is made again.
func TestANodeMadeForAStaleDecisionIsNotRecorded(t *testing.T) {
	tab, _ := newTable(1 << 30)
	r := tab.Child(file(Root, "f"), nil, nil)
	if r.Found || r.Ino == 0 {
		t.Fatalf("a new name: %+v", r)
	}
	first, _, _ := give(t, tab, file(Root, "f"), nil) // another lookup, meanwhile
	late := &node{}
	got := tab.Child(file(Root, "f"), nil, &Made[*node]{Entry: &late.id, Node: late, Ino: r.Ino, Gen: r.Gen})
	if !got.Found || got.Node != first {
		t.Fatalf("the late node was recorded, or the first lost its name")
	}
	if n, p := tab.Held(); n != 1 || p != 1 {
		t.Fatalf("%d numbers, %d names held, want 1 and 1", n, p)
	}
}

// Before a name joins a node the server said it is one file with, the
// table asks for the answers about that node's names, and changes
// nothing until it has them.
func TestANameJoinsANodeOnlyWhenEachOfItsNamesIsAnswered(t *testing.T) {
	tab, _ := newTable(1 << 30)
	lk := LookOf(remote.Attr{Size: 5, Mtime: time.Unix(1, 0), Mode: 0644})
	x, y := remote.Object{Mount: 1, Ino: 10}, remote.Object{Mount: 1, Ino: 20}
	a, _, _ := give(t, tab, Child{At: Place{Root, "a"}, Mode: syscall.S_IFREG, Linked: true, Look: lk}, nil)
	b := Child{At: Place{Root, "b"}, Mode: syscall.S_IFREG, Obj: x, Linked: true, Look: lk}
	r := tab.Child(b, Answers{}, nil)
	if !slices.Equal(r.Ask, []string{"a"}) {
		t.Fatalf("b, which may be a's file: asks %q, want a", r.Ask)
	}
	if _, p := tab.Held(); p != 1 {
		t.Fatalf("%d names held after a question, want 1", p)
	}
	// a is another file: b gets a node of its own, numbered by x.
	other, _, _ := give(t, tab, b, Answers{"a": y})
	if other == a || other.id.ino != InoOf(^uint64(0), "1:0:10", 0) {
		t.Fatalf("b, another file than a: a's node, or number %d, not its Object's", other.id.ino)
	}
	tab.Drop(Place{Root, "b"})
	tab.Forget(&other.id)
	if n, _, _ := give(t, tab, b, Answers{"a": x}); n != a {
		t.Fatalf("b, which the server said is a's file, did not join a's node")
	}
	if count, paths := tab.Names(&a.id); count != 2 || !slices.Equal(paths, []string{"a", "b"}) {
		t.Fatalf("a's names: %d %q", count, paths)
	}
}

// Join gives a node met before anyone asked to the node its Object has,
// and names the entries the kernel must forget; a node with an open file
// keeps its names.
func TestJoinMovesNamesToTheObjectsNodeUnlessOpen(t *testing.T) {
	tab, root := newTable(1 << 30)
	lk := LookOf(remote.Attr{Size: 5, Mode: 0644})
	x := remote.Object{Mount: 1, Ino: 10}
	a, _, _ := give(t, tab, Child{At: Place{Root, "a"}, Mode: syscall.S_IFREG, Obj: x, Linked: true, Look: lk}, Answers{})
	b, _, _ := give(t, tab, Child{At: Place{Root, "b"}, Mode: syscall.S_IFREG, Linked: true, Look: lk}, nil)
	j := Join{At: Place{Root, "b"}, Obj: x, Look: lk, Linked: true}
	tab.Opened(&b.id, 1)
	if got := tab.Join(j, Answers{"a": x, "b": x}); len(got.Forget)+len(got.Refresh)+len(got.Ask) > 0 {
		t.Fatalf("an open node was joined: %+v", got)
	}
	tab.Opened(&b.id, -1)
	if got := tab.Join(j, Answers{}); !slices.Equal(got.Ask, []string{"b", "a"}) {
		t.Fatalf("asks %q, want b and a", got.Ask)
	}
	got := tab.Join(j, Answers{"a": x, "b": x})
	if len(got.Forget) != 1 || got.Forget[0] != (Name[*node]{root, "b"}) || !slices.Equal(got.Refresh, []*node{a}) {
		t.Fatalf("joined: %+v", got)
	}
	if ino, live := tab.Number(Root, "b", syscall.S_IFREG, x); ino != a.id.ino || !live {
		t.Fatalf("b lists number %d (live %v), a has %d", ino, live, a.id.ino)
	}
}

// A directory past its bound queues the names given nodes in it, and
// hands back all but half of the bound of them, never a directory.
func TestADirectoryPastItsBoundHandsBackItsOlderNodes(t *testing.T) {
	const bound = 10
	tab, root := newTable(bound)
	sub, _, _ := give(t, tab, Child{At: Place{Root, "sub"}, Mode: syscall.S_IFDIR}, nil)
	var made []string
	for i := 0; ; i++ {
		name := fmt.Sprintf("f%d", i)
		_, _, shed := give(t, tab, file(Root, name), nil)
		made = append(made, name)
		if shed {
			break
		}
		if i > 1000 {
			t.Fatal("no handing back")
		}
	}
	if held := len(made) + 1; held != bound/2+ShedBatch+1 {
		t.Fatalf("handing back due at %d names, want %d", held, bound/2+ShedBatch+1)
	}
	// A directory of its own is bounded apart.
	if _, _, shed := give(t, tab, file(sub.id.ino, "x"), nil); shed {
		t.Fatal("a small directory is due to hand back")
	}
	sheds := tab.TakeShed()
	if len(sheds) != 1 || sheds[0].Dir != root || sheds[0].Held != len(made)+1 {
		t.Fatalf("took %+v", sheds)
	}
	got := slices.Clone(sheds[0].Names)
	slices.Sort(got)
	want := slices.Clone(made[:len(made)-bound/2])
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("handed back %d names, want the %d oldest files (not sub, not the %d newest)", len(got), len(want), bound/2)
	}
	if again := tab.TakeShed(); len(again) != 0 {
		t.Fatalf("taken twice: %+v", again)
	}
}

// A file's Object told two ways (Identify's /proc answer: mount id,
// f_fsid, inode; a bulk answer: find's device and inode) is one file, and
// a bulk answer that tells another inode number at a name (our own upload
// replaced the file by a rename, or another client did) keeps the node
// the kernel holds there: only Identify's answers, which name the very
// file, tell two files apart. Splitting a node under an open file made
// the kernel read a second inode with the server's older size (the
// many-users soak's short reads and stale fstat sizes).
func TestAnObjectToldByABulkAnswerNeverSplitsANodeFromItsName(t *testing.T) {
	tab, _ := newTable(1 << 30)
	f := file(Root, "f")
	n, _, _ := give(t, tab, f, nil)
	proc := remote.Object{Mount: 31, FS: 7, Ino: 1234}
	f.Obj = proc
	if again, made, _ := give(t, tab, f, nil); again != n || made {
		t.Fatal("f, identified by /proc: another node")
	}
	for _, ino := range []uint64{1234, 9999} {
		f.Obj = remote.FindObject(remote.Attr{Dev: 2049, Ino: ino})
		f.Want = ino
		if again, made, _ := give(t, tab, f, nil); again != n || made {
			t.Fatalf("f, told by find as inode %d: another node", ino)
		}
		if got, live := tab.NumberWant(Root, "f", syscall.S_IFREG, f.Obj, ino); got != n.id.ino || !live {
			t.Fatalf("a listing told inode %d shows number %d (live %v), the node has %d", ino, got, live, n.id.ino)
		}
	}
	// Identify's answers still tell two files apart.
	f.Obj, f.Want = remote.Object{Mount: 31, FS: 7, Ino: 5678}, 0
	if again, _, _ := give(t, tab, f, nil); again == n {
		t.Fatal("another file by /proc's answer: the same node")
	}
}

// A name the server linked, then replaced, leaves its node when a bulk
// answer tells another inode number there: the node has other names.
func TestANameOfALinkedNodeReplacedOnTheServerLeavesItByABulkAnswer(t *testing.T) {
	tab, _ := newTable(1 << 30)
	f := file(Root, "f")
	f.Obj = remote.FindObject(remote.Attr{Dev: 2049, Ino: 1234})
	n, _, _ := give(t, tab, f, nil)
	tab.Link(&n.id, Place{Root, "g"})
	g := file(Root, "g")
	g.Obj = remote.FindObject(remote.Attr{Dev: 2049, Ino: 1234})
	if again, made, _ := give(t, tab, g, nil); again != n || made {
		t.Fatal("g, told as the same inode: another node")
	}
	g.Obj = remote.FindObject(remote.Attr{Dev: 2049, Ino: 5678})
	if other, _, _ := give(t, tab, g, nil); other == n {
		t.Fatal("g, told as another inode while f keeps the first: still f's node")
	}
}
