package fs

import (
	"context"
	"os"
	"path"
	"sync"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/fs/identity"
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
	mu     sync.Mutex               // guards asking, seen, seenN, filling, stopped and each batch's sent; held for no round trip
	asking map[string]chan struct{} // paths asked about, closed when answered

	// seen are files with links listed alone in their look, not asked
	// about: a look-alike listed later (the next READDIR batch, another
	// directory) is asked about with them. Bounded by seenMax.
	seen  map[identity.Look][]string
	seenN int

	filling *objectBatch  // the batch names are being claimed into (queueIdentify)
	slots   chan struct{} // batches being asked about

	// The batches asked about in the background are the table's: stop
	// cancels them and waits for them to end.
	ctx     context.Context
	cancel  context.CancelFunc
	batches sync.WaitGroup // one per batch made, done when asked about
	stopped bool           // guarded by mu: no batch is made after stop
}

const seenMax = 100000

// earlier are the names listed alone in look lk before, other than rel;
// again says rel is one of them (its directory listed again). Caller
// holds mu.
func (o *objectTable) earlier(lk identity.Look, rel string) (others []string, again bool) {
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
func (o *objectTable) remember(lk identity.Look, rel string) {
	if o.seenN >= seenMax {
		o.seen, o.seenN = nil, 0
	}
	if o.seen == nil {
		o.seen = map[identity.Look][]string{}
	}
	o.seen[lk] = append(o.seen[lk], rel)
	o.seenN++
}

func newObjectTable(c Caches) objectTable {
	ctx, cancel := context.WithCancel(context.Background())
	return objectTable{byPath: cache.NewLimited[remote.Object](c.Attr, c.Limits), asking: map[string]chan struct{}{},
		slots: make(chan struct{}, remote.IdentifyParallel), ctx: ctx, cancel: cancel}
}

// stop cancels the batches being asked about in the background and waits
// for them; names queued after are not asked about (a lookup asks
// itself). FS.Close calls it.
func (o *objectTable) stop() {
	o.mu.Lock()
	o.stopped = true
	o.mu.Unlock()
	o.cancel()
	o.batches.Wait()
}

// hasLinks reports whether a is a regular file with more than one link.
func hasLinks(a remote.Attr) bool {
	return a.Mode&os.ModeType == 0 && a.Nlink > 1
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
	groups := map[identity.Look][]remote.DirEntry{}
	for _, e := range entries {
		if hasLinks(e.Attr) && e.Attr.Ino == 0 { // a.Ino: a bulk answer told which file it is (tree.go)
			groups[identity.LookOf(e.Attr)] = append(groups[identity.LookOf(e.Attr)], e)
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
	// What the identity table holds of each, asked before o.mu is taken.
	kin := map[string]identity.Kin{}
	for lk, es := range groups {
		for _, e := range es {
			kin[e.Name] = f.ids.Kinship(identity.Place{Dir: dino, Name: e.Name}, live, lk)
		}
	}
	o := &f.objects
	o.mu.Lock()
	for lk, es := range groups {
		for _, e := range es {
			k := kin[e.Name]
			rel := path.Join(dir, e.Name)
			earlier, again := o.earlier(lk, rel) // listed before, alone so far
			if len(es) < 2 && k.Others == 0 && len(earlier) == 0 && !k.KnownOf {
				if !again {
					o.remember(lk, rel)
				}
				continue
			}
			put(rel)
			wait = wait || (k.Live && !k.Known)
			put(earlier...)
			put(k.Paths...)
		}
		if add[path.Join(dir, es[0].Name)] {
			delete(o.seen, lk)
		}
	}
	o.mu.Unlock()
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
	if o.stopped {
		return
	}
	for _, rel := range rels {
		if _, ok := o.byPath.Get(rel); ok {
			continue
		}
		if _, ok := o.asking[rel]; ok {
			continue
		}
		if o.filling == nil {
			b := &objectBatch{done: make(chan struct{})}
			o.batches.Add(1) // done by askBatch, whichever sends it
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
// Once the table is stopped it asks nothing: its names are left
// unanswered (their waiters go on).
func (f *FS) askBatch(b *objectBatch) {
	o := &f.objects
	defer o.batches.Done()
	select {
	case o.slots <- struct{}{}:
		defer func() { <-o.slots }()
	case <-o.ctx.Done():
	}
	if o.ctx.Err() != nil {
		o.mu.Lock()
		for _, rel := range b.mine {
			delete(o.asking, rel)
		}
		o.mu.Unlock()
		close(b.done)
		return
	}
	ctx, cancel := context.WithTimeout(o.ctx, f.opts.Timeout)
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
	a = f.withLinks(rel, f.withTold(rel, a))
	if a.Mode&os.ModeType != 0 || f.opts.SeparateLinks || a.Ino != 0 {
		return nil // a.Ino: a bulk answer told which file it is (tree.go)
	}
	_, told := f.links.Get(rel)
	k := f.ids.Kinship(n.placeOf(name), true, identity.LookOf(a))
	var paths []string
	ask := k.Live && k.Known
	// A count no listing told (lstat tells none) may be more than one:
	// such a name is asked about too when a live file of its look has
	// links, or it would show 1 link and a number of its own.
	if hasLinks(a) || !told {
		paths = k.Paths
		ask = ask || len(paths) > 0 || k.KnownOf
	}
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
// whose node's names the server said are that file are joined
// (identity.Table.Join).
func (f *FS) joinLive(rels []string) {
	var joins []identity.Join
	for _, rel := range rels {
		obj, ok := f.objects.byPath.Get(rel)
		if !ok {
			continue
		}
		a, _ := f.attrs.Get(rel)
		if dino, live := f.dirIno(parentOf(rel)); live {
			joins = append(joins, identity.Join{At: identity.Place{Dir: dino, Name: path.Base(rel)}, Obj: obj,
				Look: identity.LookOf(a), Linked: hasLinks(f.withLinks(rel, a))})
		}
	}
	var forget []identity.Name[*Node]
	var refresh []*Node
	answers := identity.Answers{}
	for _, j := range joins {
		for {
			got := f.ids.Join(j, answers)
			if len(got.Ask) == 0 {
				forget, refresh = append(forget, got.Forget...), append(refresh, got.Refresh...)
				break
			}
			for _, p := range got.Ask {
				answers[p], _ = f.objects.byPath.Get(p)
			}
		}
	}
	if len(forget)+len(refresh) == 0 {
		return
	}
	// Not waited for: the kernel may hold a directory's lock while it
	// waits for the lookup that asked (an invalidation takes it too).
	f.notify.send(func() {
		for _, e := range forget {
			e.Dir.NotifyEntry(e.Name)
		}
		for _, n := range refresh {
			n.NotifyContent(-1, 0) // attributes only
		}
	})
}

// knownObject is the Object the server said rel is, if it did within the
// attribute timeout and a is a regular file.
func (f *FS) knownObject(rel string, a remote.Attr) remote.Object {
	if a.Mode&os.ModeType != 0 {
		return remote.Object{}
	}
	if a = f.withTold(rel, a); a.Ino != 0 && !f.opts.SeparateLinks {
		return remote.FindObject(a) // told by a bulk answer (tree.go)
	}
	obj, _ := f.objects.byPath.Get(rel)
	return obj
}

// confirmPlaces asks again about the names of the node of the Object the
// server said rel is whose answers have expired, so that newChild can
// tell whether rel joins it.
func (f *FS) confirmPlaces(ctx context.Context, rel string) {
	obj, ok := f.objects.byPath.Get(rel)
	if !ok {
		return
	}
	var stale []string
	for _, p := range f.ids.ObjectPaths(obj) {
		if _, ok := f.objects.byPath.Get(p); !ok && p != rel {
			stale = append(stale, p)
		}
	}
	if len(stale) > 0 {
		f.identify(ctx, stale)
	}
}

// dirIno is the number of directory dir's live node, if it has one.
func (f *FS) dirIno(dir string) (uint64, bool) {
	if n := f.nodeAt(dir); n != nil {
		return n.StableAttr().Ino, true
	}
	return 0, false
}
