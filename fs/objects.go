package fs

import (
	"context"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// Names the server linked. A regular file whose listing says it has more
// than one link may share its inode with another name: names with the
// same Object (remote.Identify: its server mount and inode number, where
// the server can tell) are one node, with one inode number, as on a local
// disk, so tar -c and rsync -aH out of the mount store the link, not a
// second copy.
//
// Asking costs the server a few requests a file, so only names that
// could be one file with another are asked about: names of one file show
// the same size, mtime, mode and owner (their look). A file with links
// is asked about when another such file of the same look is in the same
// listing or has a live node; the first name of a file met alone is not
// asked, and gets its path's number; the second, met later, is asked
// about along with the names it may be. A listing asks for those of its
// names at once, in the background (a batch of 128 costs two round
// trips, four batches at once); the lookup that needs an answer waits
// for it, or asks itself.
//
// The answers are kept by path for the attribute timeout, as attributes
// are. A name joins another's node only once the server has said, within
// that timeout, that each name the node has is that Object: an inode
// number the server gave again to a new file after the old one went never
// joins two files. A node made with its Object known draws its number
// from the Object, so the names of a file met together number alike on
// every mount.

// objectTable is the fs's part of it: the answers by path, and those on
// their way.
type objectTable struct {
	byPath *cache.Map[remote.Object]
	mu     sync.Mutex
	asking map[string]chan struct{} // paths asked about, closed when answered

	// seen are files with links listed alone in their look, not asked
	// about: a look-alike listed later (the next READDIR batch, another
	// directory) is asked about with them. Bounded by seenMax.
	seen  map[look][]string
	seenN int

	filling *objectBatch  // the batch names are being claimed into (queueIdentify)
	slots   chan struct{} // batches being asked about
}

const seenMax = 100000

// earlier are the names listed alone in look lk before, other than rel;
// again says rel is one of them (its directory listed again). Caller
// holds mu.
func (o *objectTable) earlier(lk look, rel string) (others []string, again bool) {
	for _, p := range o.seen[lk] {
		if p == rel {
			again = true
		} else {
			others = append(others, p)
		}
	}
	return others, again
}

// remember notes rel, listed alone in look lk. Caller holds mu.
func (o *objectTable) remember(lk look, rel string) {
	if o.seenN >= seenMax {
		o.seen, o.seenN = nil, 0
	}
	if o.seen == nil {
		o.seen = map[look][]string{}
	}
	o.seen[lk] = append(o.seen[lk], rel)
	o.seenN++
}

func newObjectTable(c Caches) objectTable {
	return objectTable{byPath: cache.NewLimited[remote.Object](c.Attr, c.Limits), asking: map[string]chan struct{}{},
		slots: make(chan struct{}, remote.IdentifyParallel)}
}

// hasLinks reports whether a is a regular file with more than one link.
func hasLinks(a remote.Attr) bool {
	return a.Mode&os.ModeType == 0 && a.Nlink > 1
}

// look is what names of one file show alike.
type look struct {
	size     uint64
	mtime    int64
	mode     os.FileMode
	uid, gid uint32
}

func lookOf(a remote.Attr) look {
	return look{a.Size, a.Mtime.Unix(), a.Mode, a.UID, a.GID}
}

// identifyAhead asks, in the background, which files those regular files
// with links among entries of dir are that may be one file with another
// (see above), and which the live nodes of their look are. Where a listed
// name already has a node whose Object nobody asked (the kernel met it
// by stat or open before any listing told its count), the listing waits
// for the answer, so that what it hands out, and the ls -l that follows,
// already show the names joined (joinLive): two round trips, in that
// order of first contact only.
func (f *FS) identifyAhead(dir string, entries []remote.DirEntry) {
	rels, wait := f.toIdentifyAhead(dir, entries)
	switch {
	case len(rels) == 0:
	case wait:
		ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
		defer cancel()
		f.identify(ctx, rels)
	default:
		f.queueIdentify(rels)
	}
}

// toIdentifyAhead are the names identifyAhead asks about, and whether one
// of them has a live node whose Object is not known.
func (f *FS) toIdentifyAhead(dir string, entries []remote.DirEntry) (rels []string, wait bool) {
	if f.opts.SeparateLinks {
		return
	}
	groups := map[look][]remote.DirEntry{}
	for _, e := range entries {
		if hasLinks(e.Attr) {
			groups[lookOf(e.Attr)] = append(groups[lookOf(e.Attr)], e)
		}
	}
	if len(groups) == 0 {
		return nil, false
	}
	add := map[string]bool{}
	put := func(ps ...string) {
		for _, p := range ps {
			if !add[p] {
				add[p] = true
				rels = append(rels, p)
			}
		}
	}
	dino, live := f.dirIno(dir)
	t := &f.ids
	o := &f.objects
	t.mu.Lock()
	o.mu.Lock()
	for lk, es := range groups {
		for _, e := range es {
			var at *Node
			if live {
				at = t.byPlace[place{dino, e.Name}]
			}
			rel := path.Join(dir, e.Name)
			others := t.othersOfLook(lk, at)
			earlier, again := o.earlier(lk, rel) // listed before, alone so far
			if len(es) < 2 && len(others) == 0 && len(earlier) == 0 && !t.knownOfLook(lk, at) {
				if !again {
					o.remember(lk, rel)
				}
				continue
			}
			put(rel)
			wait = wait || (at != nil && !at.obj.Known())
			put(earlier...)
			for _, c := range others {
				put(t.pathsOf(c)...)
			}
		}
		if add[path.Join(dir, es[0].Name)] {
			delete(o.seen, lk)
		}
	}
	o.mu.Unlock()
	t.mu.Unlock()
	return rels, wait
}

// queueIdentify claims rels, those neither answered nor being asked
// about, into the batch being filled, which is asked about once it holds
// IdentifyBatch names or batchWindow after its first: the names of one
// listing, which come a READDIR reply at a time, go in few batches. A
// lookup waits for its name's batch, not for the listing's last, and
// asks nothing itself. IdentifyParallel batches are asked at once.
func (f *FS) queueIdentify(rels []string) {
	o := &f.objects
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rel := range rels {
		if _, ok := o.byPath.Get(rel); ok {
			continue
		}
		if _, ok := o.asking[rel]; ok {
			continue
		}
		if o.filling == nil {
			b := &objectBatch{done: make(chan struct{})}
			o.filling = b
			time.AfterFunc(batchWindow, func() { f.sendBatch(b) })
		}
		b := o.filling
		o.asking[rel] = b.done
		b.mine = append(b.mine, rel)
		if len(b.mine) == remote.IdentifyBatch {
			o.filling = nil
			b.sent = true
			go f.askBatch(b)
		}
	}
}

// batchWindow is how long a batch of names to ask about waits for more.
const batchWindow = 10 * time.Millisecond

// objectBatch is names claimed to be asked about together.
type objectBatch struct {
	mine []string
	done chan struct{}
	sent bool // guarded by objectTable.mu
}

// sendBatch asks about b at the end of its window, unless it went full.
func (f *FS) sendBatch(b *objectBatch) {
	o := &f.objects
	o.mu.Lock()
	if b.sent {
		o.mu.Unlock()
		return
	}
	b.sent = true
	if o.filling == b {
		o.filling = nil
	}
	o.mu.Unlock()
	f.askBatch(b)
}

// askBatch asks about b once one of IdentifyParallel slots is free.
func (f *FS) askBatch(b *objectBatch) {
	f.objects.slots <- struct{}{}
	defer func() { <-f.objects.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
	defer cancel()
	f.askObjects(ctx, b.mine, b.done)
}

// toIdentify are the paths to ask about before name in n, a file at rel
// with attributes a, is given a node: itself and the names of the live
// nodes of its look, if it has links and there are such nodes, or if
// its name's node is a known Object (its links may have gone, or the
// name been given to another file). Those already answered are left out.
func (n *Node) toIdentify(rel, name string, a remote.Attr) []string {
	f := n.fs
	a = f.withLinks(rel, a)
	if a.Mode&os.ModeType != 0 || f.opts.SeparateLinks {
		return nil
	}
	t := &f.ids
	t.mu.Lock()
	old := t.byPlace[place{n.StableAttr().Ino, name}]
	var paths []string
	ask := old != nil && old.obj.Known()
	// A count no listing told (lstat tells none) may be more than one:
	// such a name is asked about too when a live file of its look has
	// links, or it would show 1 link and a number of its own.
	if _, told := f.links.Get(rel); hasLinks(a) || !told {
		lk := lookOf(a)
		for _, c := range t.othersOfLook(lk, old) {
			paths = append(paths, t.pathsOf(c)...)
		}
		ask = ask || len(paths) > 0 || t.knownOfLook(lk, old)
	}
	t.mu.Unlock()
	if !ask {
		return nil
	}
	out := paths[:0]
	for _, p := range append(paths, rel) {
		if _, ok := f.objects.byPath.Get(p); !ok {
			out = append(out, p)
		}
	}
	return out
}

// identify asks the server about those of rels neither known nor being
// asked about, and stores the answers; it returns once rels are answered,
// ctx ends, or -o timeout has passed.
func (f *FS) identify(ctx context.Context, rels []string) {
	done := make(chan struct{})
	mine, waits := f.objects.claim(rels, done)
	f.askObjects(ctx, mine, done)
	timeout := time.NewTimer(f.opts.Timeout)
	defer timeout.Stop()
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timeout.C:
			return
		}
	}
}

// claim marks those of rels neither answered nor being asked about as
// asked about under done, and returns them, and the channels of those
// being asked about.
func (o *objectTable) claim(rels []string, done chan struct{}) (mine []string, waits []chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rel := range rels {
		if _, ok := o.byPath.Get(rel); ok {
			continue
		}
		if ch, ok := o.asking[rel]; ok {
			if ch != done {
				waits = append(waits, ch)
			}
			continue
		}
		o.asking[rel] = done
		mine = append(mine, rel)
	}
	return mine, waits
}

// askObjects asks the server about mine, claimed under done, stores the
// answers and closes done.
func (f *FS) askObjects(ctx context.Context, mine []string, done chan struct{}) {
	defer close(done)
	if len(mine) == 0 {
		return
	}
	o := &f.objects
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	objs, err := f.remote.Identify(ctx, mine)
	if f.opts.Debug != nil {
		f.opts.Debug.Printf("identify %d files from %q: %v", len(mine), "/"+mine[0], err)
	}
	o.mu.Lock()
	for i, rel := range mine {
		if err == nil && objs[i].Known() {
			f.changed.Keep(tok, func() { o.byPath.Put(rel, objs[i]) }, rel)
		}
		delete(o.asking, rel)
	}
	o.mu.Unlock()
	if err == nil {
		f.joinLive(mine)
	}
}

// joinLive makes the live nodes at rels that the server has just said
// are one file one node, whatever the order the kernel met them in: a
// name stat'ed or opened before any listing told its count got a node
// of its own, and the kernel still holds it. The node the Object
// already has, or else the first, keeps its number and takes the others'
// names; the kernel is told to forget those names (FUSE_NOTIFY_INVAL_ENTRY),
// so its next lookup of each finds the one node, and to fetch that node's
// attributes again, whose link count is now the server's. A node with an
// open file keeps its name until the file is closed and the name looked
// up again (its handles reach the server by its path). Only names each of
// whose node's names the server said are that file are joined (joins).
func (f *FS) joinLive(rels []string) {
	type named struct {
		at     place
		obj    remote.Object
		lk     look
		linked bool
	}
	var ats []named
	for _, rel := range rels {
		obj, ok := f.objects.byPath.Get(rel)
		if !ok {
			continue
		}
		a, _ := f.attrs.Get(rel)
		if dino, live := f.dirIno(parentOf(rel)); live {
			ats = append(ats, named{place{dino, path.Base(rel)}, obj, lookOf(a), hasLinks(f.withLinks(rel, a))})
		}
	}
	type entry struct {
		dir  *Node
		name string
	}
	var forget []entry
	var refresh []*Node
	t := &f.ids
	t.mu.Lock()
	for _, a := range ats {
		n := t.byPlace[a.at]
		if n == nil || n.StableAttr().Mode != syscall.S_IFREG || (n.obj.Known() && n.obj != a.obj) {
			continue
		}
		one := t.byObj[a.obj]
		if one == nil || one.forgotten {
			if !f.joins(n, a.obj) {
				continue
			}
			t.know(n, a.obj)
			if a.linked {
				t.addLook(n, a.lk) // a name met later and alone is asked about
			}
			refresh = append(refresh, n)
			continue
		}
		if n == one || n.hasHandles() || !f.joins(n, a.obj) || !f.joins(one, a.obj) {
			continue
		}
		for len(n.places) > 0 {
			at := n.places[0]
			t.unplace(n, at)
			t.setPlace(one, at)
			if dir := f.nodeOfIno(at.dir); dir != nil {
				forget = append(forget, entry{dir, at.name})
			}
		}
		t.dropLook(n)
		refresh = append(refresh, one)
	}
	t.mu.Unlock()
	if len(forget)+len(refresh) == 0 {
		return
	}
	// Not waited for: the kernel may hold a directory's lock while it
	// waits for the lookup that asked (an invalidation takes it too).
	go func() {
		for _, e := range forget {
			e.dir.NotifyEntry(e.name)
		}
		for _, n := range refresh {
			n.NotifyContent(-1, 0) // attributes only
		}
	}()
}

// nodeOfIno is the live directory node numbered ino, the root included.
// Caller holds ids.mu.
func (f *FS) nodeOfIno(ino uint64) *Node {
	if ino == f.root.StableAttr().Ino {
		return f.root
	}
	return f.ids.byIno[ino]
}

// objectKey is the place an Object's node number is drawn from: a
// directory number no directory has (they stay below 2^63), and the
// Object's numbers as its name.
func objectKey(obj remote.Object) place {
	return place{^uint64(0), strconv.FormatUint(obj.Mount, 10) + ":" + strconv.FormatUint(obj.FS, 16) + ":" + strconv.FormatUint(obj.Ino, 10)}
}

// knownObject is the Object the server said rel is, if it did within the
// attribute timeout and a is a regular file.
func (f *FS) knownObject(rel string, a remote.Attr) remote.Object {
	if a.Mode&os.ModeType != 0 {
		return remote.Object{}
	}
	obj, _ := f.objects.byPath.Get(rel)
	return obj
}

// othersOfLook are the live nodes of regular files with links made with
// look lk whose Object nobody asked, but not. Caller holds mu.
func (t *identities) othersOfLook(lk look, not *Node) []*Node {
	var out []*Node
	for _, c := range t.byLook[lk] {
		if c != not {
			out = append(out, c)
		}
	}
	return out
}

// knownOfLook reports whether a live node of look lk whose Object is
// known, other than not, exists. Caller holds mu.
func (t *identities) knownOfLook(lk look, not *Node) bool {
	k := t.lookKnown[lk]
	if not != nil && not.lookKnown && not.look == lk {
		k--
	}
	return k > 0
}

// know records that n is obj. Caller holds mu.
func (t *identities) know(n *Node, obj remote.Object) {
	n.obj, t.byObj[obj] = obj, n
	if n.hasLook {
		lk := n.look
		t.dropLook(n)
		t.addLook(n, lk)
	}
}

// confirmPlaces asks again about the names of the node of the Object the
// server said rel is whose answers have expired, so that newChild can
// tell whether rel joins it.
func (f *FS) confirmPlaces(ctx context.Context, rel string) {
	obj, ok := f.objects.byPath.Get(rel)
	if !ok {
		return
	}
	t := &f.ids
	t.mu.Lock()
	var stale []string
	if n := t.byObj[obj]; n != nil {
		for _, p := range t.pathsOf(n) {
			if _, ok := f.objects.byPath.Get(p); !ok && p != rel {
				stale = append(stale, p)
			}
		}
	}
	t.mu.Unlock()
	if len(stale) > 0 {
		f.identify(ctx, stale)
	}
}

// dirIno is the number of directory dir's live node, if it has one.
func (f *FS) dirIno(dir string) (uint64, bool) {
	in := &f.root.Inode
	if dir != "" {
		for _, c := range strings.Split(dir, "/") {
			if in = in.GetChild(c); in == nil {
				return 0, false
			}
		}
	}
	return in.StableAttr().Ino, true
}

// addLook files n, a regular file with links, under its look: in byLook
// while its Object is not known, counted in lookKnown once it is. Caller
// holds mu.
func (t *identities) addLook(n *Node, lk look) {
	if n.hasLook || n.lookKnown {
		return
	}
	n.look = lk
	if n.obj.Known() {
		n.lookKnown = true
		t.lookKnown[lk]++
		return
	}
	n.hasLook = true
	t.byLook[lk] = append(t.byLook[lk], n)
}

// dropLook takes n from byLook or lookKnown. Caller holds mu.
func (t *identities) dropLook(n *Node) {
	if n.lookKnown {
		if t.lookKnown[n.look]--; t.lookKnown[n.look] <= 0 {
			delete(t.lookKnown, n.look)
		}
		n.lookKnown = false
	}
	if !n.hasLook {
		return
	}
	ns := t.byLook[n.look]
	for i, c := range ns {
		if c == n {
			ns = append(ns[:i], ns[i+1:]...)
			break
		}
	}
	if len(ns) == 0 {
		delete(t.byLook, n.look)
	} else {
		t.byLook[n.look] = ns
	}
	n.hasLook = false
}

// pathsOf are the paths of n's names whose directories have live nodes.
// Caller holds mu.
func (t *identities) pathsOf(n *Node) []string {
	var out []string
	for _, p := range n.places {
		if dir := t.byIno[p.dir]; dir != nil {
			out = append(out, path.Join(dir.rel(), p.name))
		} else if p.dir == n.Root().StableAttr().Ino {
			out = append(out, p.name)
		}
	}
	return out
}

// joins reports whether a name of obj may be given node n: n has names,
// and the server said of each, within the attribute timeout, that it is
// obj. Caller holds t.mu.
func (f *FS) joins(n *Node, obj remote.Object) bool {
	paths := f.ids.pathsOf(n)
	if len(paths) == 0 || len(paths) != len(n.places) {
		return false
	}
	for _, p := range paths {
		if got, ok := f.objects.byPath.Get(p); !ok || got != obj {
			return false
		}
	}
	return true
}
