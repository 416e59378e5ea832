package fs

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/fs/identity"
	"github.com/sftpmount/sftpmount/remote"
)

// bridge serves a node tree through go-fuse's request layer, without a
// kernel, for names whose attributes are cached (so no remote call is
// made): the kernel's LOOKUP, READDIR and FORGET can be sent by hand.
func bridge(t *testing.T) (fuse.RawFileSystem, *Node) {
	t.Helper()
	root := NewRoot(&remote.Client{}, Options{Caches: CachesFor(time.Hour)})
	raw := fusefs.NewNodeFS(root, &fusefs.Options{RootStableAttr: &fusefs.StableAttr{Ino: fuse.FUSE_ROOT_ID}})
	return raw, root
}

func lookup(t *testing.T, raw fuse.RawFileSystem, dir uint64, name string) fuse.EntryOut {
	t.Helper()
	var out fuse.EntryOut
	if st := raw.Lookup(nil, &fuse.InHeader{NodeId: dir}, name, &out); st != fuse.OK {
		t.Fatalf("lookup %q: %v", name, st)
	}
	return out
}

func TestANameKeepsItsNodeAndNumberAcrossLookupsAndGetsItAgainAfterAForget(t *testing.T) {
	raw, root := bridge(t)
	root.fs.attrs.Put("d", remote.Attr{Mode: os.ModeDir | 0755})
	root.fs.attrs.Put("d/f", remote.Attr{Mode: 0644, Size: 3})
	d := lookup(t, raw, 1, "d")
	f := lookup(t, raw, d.NodeId, "f")
	if d.Ino != identity.InoOf(1, "d", 0) || f.Ino != identity.InoOf(d.Ino, "f", 0) {
		t.Fatalf("numbers %d, %d: not derived from the path", d.Ino, f.Ino)
	}
	// A directory whose attributes changed is the same object.
	root.fs.attrs.Put("d", remote.Attr{Mode: os.ModeDir | 0700, Mtime: time.Now()})
	again := lookup(t, raw, 1, "d")
	if again.NodeId != d.NodeId || again.Ino != d.Ino {
		t.Fatalf("looked up again: node %d ino %d, was node %d ino %d", again.NodeId, again.Ino, d.NodeId, d.Ino)
	}
	// The kernel forgets f, then looks it up once more: a new node, but
	// the number the path gives.
	raw.Forget(f.NodeId, 1)
	f2 := lookup(t, raw, d.NodeId, "f")
	if f2.NodeId == f.NodeId || f2.Ino != f.Ino {
		t.Fatalf("after a forget: node %d ino %d, was node %d ino %d", f2.NodeId, f2.Ino, f.NodeId, f.Ino)
	}
}

func TestATypeChangedOnTheServerGetsANewNodeAndNumberWhileTheOldLives(t *testing.T) {
	raw, root := bridge(t)
	root.fs.attrs.Put("x", remote.Attr{Mode: os.ModeDir | 0755})
	dir := lookup(t, raw, 1, "x")
	root.fs.attrs.Put("x", remote.Attr{Mode: 0644})
	file := lookup(t, raw, 1, "x")
	if file.NodeId == dir.NodeId || file.Ino == dir.Ino {
		t.Fatalf("a file where a directory was: node %d ino %d, the directory's node %d ino %d", file.NodeId, file.Ino, dir.NodeId, dir.Ino)
	}
	if file.Ino != identity.InoOf(1, "x", 1) {
		t.Fatalf("ino %d: not the next probe of the path while the old number is held", file.Ino)
	}
}

func TestReaddirShowsTheNumbersLookupGives(t *testing.T) {
	raw, root := bridge(t)
	var entries []remote.DirEntry
	for i := 0; i < 5; i++ {
		entries = append(entries, remote.DirEntry{Name: fmt.Sprintf("f%d", i), Attr: remote.Attr{Mode: 0644}})
	}
	root.fs.remember("", entries, root.fs.changed.Begin())
	looked := lookup(t, raw, 1, "f2") // one live node, the others not yet
	var open fuse.OpenOut
	if st := raw.OpenDir(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: 1}}, &open); st != fuse.OK {
		t.Fatal(st)
	}
	buf := make([]byte, 8192)
	if st := raw.ReadDir(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: 1}, Fh: open.Fh, Size: 8192}, fuse.NewDirEntryList(buf, 0)); st != fuse.OK {
		t.Fatal(st)
	}
	listed := direntInos(buf)
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("f%d", i)
		want := lookup(t, raw, 1, name).Ino
		if name == "f2" && want != looked.Ino {
			t.Fatalf("f2 changed number: %d, was %d", want, looked.Ino)
		}
		if got := listed[name]; got != want {
			t.Errorf("%s: readdir's number %d, lookup's %d", name, got, want)
		}
	}
}

// direntInos reads struct fuse_dirent records (ino, off, namelen, type,
// name padded to 8 bytes) from a READDIR reply.
func direntInos(buf []byte) map[string]uint64 {
	inos := map[string]uint64{}
	for len(buf) >= 24 {
		namelen := int(binary.LittleEndian.Uint32(buf[16:]))
		if namelen == 0 || 24+namelen > len(buf) {
			break
		}
		inos[string(buf[24:24+namelen])] = binary.LittleEndian.Uint64(buf)
		buf = buf[(24+namelen+7)&^7:]
	}
	return inos
}

func TestTheTableHoldsOnlyWhatTheKernelReferences(t *testing.T) {
	raw, root := bridge(t)
	const names = 2000
	ids := make([]uint64, names)
	for i := range ids {
		name := fmt.Sprintf("n%d", i)
		root.fs.attrs.Put(name, remote.Attr{Mode: 0644})
		ids[i] = lookup(t, raw, 1, name).NodeId
	}
	if got, _ := root.fs.ids.Held(); got != names {
		t.Fatalf("%d live nodes, table holds %d", names, got)
	}
	for _, id := range ids {
		raw.Forget(id, 1)
	}
	if n, p := root.fs.ids.Held(); n != 0 || p != 0 {
		t.Fatalf("after the kernel forgot every node the table still holds %d numbers and %d names", n, p)
	}
}

// A file removed and made again at once (tar over a tree, git checkout)
// keeps its path's number even before the kernel's FORGET of the old one
// arrives: the number is given again under the next Gen, never as the
// triple a node still alive holds.
func TestAFileMadeAgainWhileTheOldIsDyingGetsItsNumberUnderAnotherGen(t *testing.T) {
	raw, root := bridge(t)
	present := []remote.DirEntry{{Name: "f", Attr: remote.Attr{Mode: 0644}}}
	gone := func() { // the server says f is gone
		root.fs.remember("", nil, root.fs.changed.Begin())
		root.fs.attrs.Delete("f")
		tok := root.fs.changed.Begin()
		root.fs.confirmAbsent("f", time.Now(), tok)
		root.fs.changed.End(tok)
		var out fuse.EntryOut
		if st := raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "f", &out); st != fuse.ENOENT {
			t.Fatalf("lookup of a removed name: %v", st)
		}
	}
	root.fs.remember("", present, root.fs.changed.Begin())
	old := lookup(t, raw, 1, "f")
	gone()
	root.fs.remember("", present, root.fs.changed.Begin())
	second := lookup(t, raw, 1, "f")
	if second.Ino != old.Ino || second.Generation != old.Generation+1 || second.NodeId == old.NodeId {
		t.Fatalf("made again: node %d ino %d gen %d; the old: node %d ino %d gen %d", second.NodeId, second.Ino, second.Generation, old.NodeId, old.Ino, old.Generation)
	}
	// The new one is forgotten first; the old still lives, so the next
	// one must not get the old one's triple back.
	raw.Forget(second.NodeId, 1)
	gone()
	root.fs.remember("", present, root.fs.changed.Begin())
	third := lookup(t, raw, 1, "f")
	if third.NodeId == old.NodeId || third.Ino != old.Ino || third.Generation == old.Generation {
		t.Fatalf("made a third time: node %d ino %d gen %d; the old, still alive: node %d gen %d", third.NodeId, third.Ino, third.Generation, old.NodeId, old.Generation)
	}
	raw.Forget(old.NodeId, 1)
	raw.Forget(third.NodeId, 1)
	if n, _ := root.fs.ids.Held(); n != 0 {
		t.Fatalf("%d numbers held after every node was forgotten", n)
	}
}

// Names the server said are one file (objects.go) are one node, with the
// number the file's Object gives, in lookups and in readdir; a look-alike
// is another; a name the server gave another file leaves the node.
func TestNamesTheServerSaysAreOneFileShareANode(t *testing.T) {
	raw, root := bridge(t)
	x, y, z := remote.Object{Mount: 24, Ino: 1000}, remote.Object{Mount: 24, Ino: 2000}, remote.Object{Mount: 24, Ino: 3000}
	for p, o := range map[string]remote.Object{"a": x, "b": x, "c": y, "d": y} {
		root.fs.objects.byPath.Put(p, o) // answered: nothing is asked
	}
	var entries []remote.DirEntry
	for _, name := range []string{"a", "b", "c", "d"} {
		entries = append(entries, remote.DirEntry{Name: name, Attr: remote.Attr{Mode: 0644, Size: 5, Nlink: 2}})
	}
	entries = append(entries, remote.DirEntry{Name: "plain", Attr: remote.Attr{Mode: 0644, Size: 5, Nlink: 1}})
	// A file with links and no look-alike is not asked about (the empty
	// client here would fail the lookup if it were): its path's number.
	entries = append(entries, remote.DirEntry{Name: "lone", Attr: remote.Attr{Mode: 0644, Size: 7, Nlink: 2}})
	root.fs.remember("", entries, root.fs.changed.Begin())
	a, b, c, d := lookup(t, raw, 1, "a"), lookup(t, raw, 1, "b"), lookup(t, raw, 1, "c"), lookup(t, raw, 1, "d")
	if a.NodeId != b.NodeId || a.Ino != b.Ino || c.NodeId != d.NodeId {
		t.Fatalf("a, b: nodes %d, %d; c, d: nodes %d, %d: names of one file not one node", a.NodeId, b.NodeId, c.NodeId, d.NodeId)
	}
	if a.NodeId == c.NodeId || a.Ino == c.Ino {
		t.Fatalf("a and c, two files alike, share node %d / number %d", a.NodeId, a.Ino)
	}
	if c.Ino != identity.InoOf(^uint64(0), "24:0:2000", 0) {
		t.Fatalf("c's number %d is not its Object's", c.Ino)
	}
	// Listed again (a file manager's refresh): still nothing to ask.
	root.fs.remember("", entries, root.fs.changed.Begin())
	root.fs.objects.mu.Lock()
	_, asked := root.fs.objects.asking["lone"]
	root.fs.objects.mu.Unlock()
	if asked {
		t.Errorf("lone, listed again, is asked about")
	}
	time.Sleep(3 * batchWindow)
	if lone := lookup(t, raw, 1, "lone"); lone.Ino != identity.InoOf(1, "lone", 0) {
		t.Errorf("lone, with links and no look-alike: number %d, not its path's", lone.Ino)
	}
	if a.Attr.Nlink != 2 {
		t.Errorf("a shows %d links, the listing said 2", a.Attr.Nlink)
	}

	var open fuse.OpenOut
	if st := raw.OpenDir(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: 1}}, &open); st != fuse.OK {
		t.Fatal(st)
	}
	buf := make([]byte, 8192)
	if st := raw.ReadDir(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: 1}, Fh: open.Fh, Size: 8192}, fuse.NewDirEntryList(buf, 0)); st != fuse.OK {
		t.Fatal(st)
	}
	for name, want := range map[string]uint64{"a": a.Ino, "b": a.Ino, "c": c.Ino, "d": c.Ino} {
		if got := direntInos(buf)[name]; got != want {
			t.Errorf("%s: readdir's number %d, lookup's %d", name, got, want)
		}
	}

	// The server now has another file at b.
	root.fs.objects.byPath.Put("b", z)
	b2 := lookup(t, raw, 1, "b")
	if b2.NodeId == a.NodeId || b2.Ino == a.Ino {
		t.Errorf("b, now another file, still has a's node %d / number %d", b2.NodeId, b2.Ino)
	}
	if again := lookup(t, raw, 1, "a"); again.NodeId != a.NodeId {
		t.Errorf("a lost its node: %d, was %d", again.NodeId, a.NodeId)
	}
}

// stopIdentity, which FS.Close calls, ends the goroutines identity
// started: a batch of names waiting to be asked about and the shed loop.
// Nothing is started after it.
func TestStopIdentityEndsWhatIdentityStarted(t *testing.T) {
	_, root := bridge(t)
	f := root.fs
	before := runtime.NumGoroutine()
	f.queueIdentify([]string{"a", "b"}) // asked about after batchWindow
	f.notify.kickShed()
	f.stopIdentity()
	f.queueIdentify([]string{"c"})
	f.notify.kickShed()
	<-f.notify.send(func() { t.Error("a notice sent after stop") })
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after stop, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	f.objects.mu.Lock()
	defer f.objects.mu.Unlock()
	if len(f.objects.asking) != 0 || f.objects.filling != nil {
		t.Fatalf("names left being asked about: %v", f.objects.asking)
	}
}
