package fs

import (
	"context"
	"os"
	"path"
	"strconv"
	"sync"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// Names the server linked. A regular file whose listing says it has more
// than one link is asked which file it is (remote.Identify: its server
// mount and inode number, where the server can tell). Names with the same
// Object are one node, with one inode number, as on a local disk: tar -c
// and rsync -aH out of the mount then store the link, not a second copy.
// Such a node's number derives from its Object, not from a path, so it is
// the same whichever name is met first, and after a remount.
//
// The answers are kept by path for the attribute timeout, as attributes
// are. A listing that shows files with links asks for all of them at
// once, in the background (a batch of 128 costs two round trips, four
// batches at once); the lookup that needs an answer waits for it, or
// asks itself. A name joins
// the node of another only once the server has said, within that
// timeout, that each name the node has is that Object: an inode number
// the server gave again to a new file after the old one went never joins
// two files.

// objectTable is the fs's part of it: the answers by path, and those on
// their way.
type objectTable struct {
	byPath *cache.Map[remote.Object]
	mu     sync.Mutex
	asking map[string]chan struct{} // paths asked about, closed when answered
}

func newObjectTable(c Caches) objectTable {
	return objectTable{byPath: cache.NewLimited[remote.Object](c.Attr, c.Limits), asking: map[string]chan struct{}{}}
}

// hasLinks reports whether a is a regular file with more than one link.
func hasLinks(a remote.Attr) bool {
	return a.Mode&os.ModeType == 0 && a.Nlink > 1
}

// identifyAhead asks, in the background, which files the regular files
// with links among entries of dir are, unless known or being asked.
func (f *FS) identifyAhead(dir string, entries []remote.DirEntry) {
	var rels []string
	for _, e := range entries {
		if hasLinks(e.Attr) {
			rels = append(rels, dir+"/"+e.Name)
		}
	}
	if len(rels) == 0 {
		return
	}
	if dir == "" {
		for i := range rels {
			rels[i] = rels[i][1:]
		}
	}
	go func() {
		// A batch at a time, IdentifyParallel at once, each answered as
		// it comes: a lookup waits for its own batch, not for the
		// directory's last.
		slots := make(chan struct{}, remote.IdentifyParallel)
		for from := 0; from < len(rels); from += remote.IdentifyBatch {
			slots <- struct{}{}
			go func(batch []string) {
				defer func() { <-slots }()
				ctx, cancel := context.WithTimeout(context.Background(), f.opts.Timeout)
				defer cancel()
				f.identify(ctx, batch)
			}(rels[from:min(from+remote.IdentifyBatch, len(rels))])
		}
	}()
}

// identify asks the server about those of rels neither known nor being
// asked about, and stores the answers; it returns once rels are answered
// (or ctx ends).
func (f *FS) identify(ctx context.Context, rels []string) {
	o := &f.objects
	var mine []string
	var waits []chan struct{}
	done := make(chan struct{})
	o.mu.Lock()
	for _, rel := range rels {
		if _, ok := o.byPath.Get(rel); ok {
			continue
		}
		if ch, ok := o.asking[rel]; ok {
			waits = append(waits, ch)
			continue
		}
		o.asking[rel] = done
		mine = append(mine, rel)
	}
	o.mu.Unlock()
	if len(mine) > 0 {
		tok := f.changed.Begin()
		objs, err := f.remote.Identify(ctx, mine)
		if err != nil && f.opts.Debug != nil {
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
		f.changed.End(tok)
		close(done)
	}
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// objectOf is the Object the server says rel is, asked if need be, for
// a regular file with links or one whose name's node is a known Object
// (its links may have gone, or the name been given to another file);
// unknown otherwise.
func (n *Node) objectOf(ctx context.Context, rel, name string, a remote.Attr) remote.Object {
	f := n.fs
	if a.Mode&os.ModeType != 0 || (!hasLinks(f.withLinks(rel, a)) && !n.knownAt(name)) {
		return remote.Object{}
	}
	if obj, ok := f.objects.byPath.Get(rel); ok {
		return obj
	}
	f.identify(ctx, []string{rel})
	obj, _ := f.objects.byPath.Get(rel)
	return obj
}

// knownAt reports whether the node at name in n is a known Object.
func (n *Node) knownAt(name string) bool {
	t := &n.fs.ids
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.byPlace[place{n.StableAttr().Ino, name}]
	return old != nil && old.obj.Known()
}

// confirmPlaces asks again about the other names of obj's node whose
// answers have expired, so that newChild can tell whether rel joins it.
func (f *FS) confirmPlaces(ctx context.Context, rel string, obj remote.Object) {
	if !obj.Known() {
		return
	}
	var stale []string
	for _, p := range f.ids.objectPaths(obj) {
		if _, ok := f.objects.byPath.Get(p); !ok && p != rel {
			stale = append(stale, p)
		}
	}
	if len(stale) > 0 {
		f.identify(ctx, stale)
	}
}

// objectKey is the place an Object's node number is drawn from: a
// directory number no directory has (they stay below 2^63), and the
// Object's numbers as its name.
func objectKey(obj remote.Object) place {
	return place{^uint64(0), strconv.FormatUint(obj.Mount, 10) + ":" + strconv.FormatUint(obj.Ino, 10)}
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

// objectPaths are the paths of the names obj's live node has.
func (t *identities) objectPaths(obj remote.Object) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.byObj[obj]
	if n == nil {
		return nil
	}
	return t.pathsOf(n)
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
