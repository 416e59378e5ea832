package fs

import (
	"context"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

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
}

func newObjectTable(c Caches) objectTable {
	return objectTable{byPath: cache.NewLimited[remote.Object](c.Attr, c.Limits), asking: map[string]chan struct{}{}}
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
// (see above), and which the live nodes of their look are.
func (f *FS) identifyAhead(dir string, entries []remote.DirEntry) {
	groups := map[look][]remote.DirEntry{}
	for _, e := range entries {
		if hasLinks(e.Attr) {
			groups[lookOf(e.Attr)] = append(groups[lookOf(e.Attr)], e)
		}
	}
	if len(groups) == 0 {
		return
	}
	var rels []string
	dino, live := f.dirIno(dir)
	t := &f.ids
	t.mu.Lock()
	for lk, es := range groups {
		for _, e := range es {
			var at *Node
			if live {
				at = t.byPlace[place{dino, e.Name}]
			}
			others := t.othersOfLook(lk, at)
			if len(es) < 2 && len(others) == 0 {
				continue
			}
			rels = append(rels, path.Join(dir, e.Name))
			for _, c := range others {
				rels = append(rels, t.pathsOf(c)...)
			}
		}
	}
	t.mu.Unlock()
	if len(rels) == 0 {
		return
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

// toIdentify are the paths to ask about before name in n, a file at rel
// with attributes a, is given a node: itself and the names of the live
// nodes of its look, if it has links and there are such nodes, or if
// its name's node is a known Object (its links may have gone, or the
// name been given to another file). Those already answered are left out.
func (n *Node) toIdentify(rel, name string, a remote.Attr) []string {
	f := n.fs
	a = f.withLinks(rel, a)
	if a.Mode&os.ModeType != 0 {
		return nil
	}
	t := &f.ids
	t.mu.Lock()
	old := t.byPlace[place{n.StableAttr().Ino, name}]
	var paths []string
	if hasLinks(a) {
		for _, c := range t.othersOfLook(lookOf(a), old) {
			paths = append(paths, t.pathsOf(c)...)
		}
	}
	ask := len(paths) > 0 || (old != nil && old.obj.Known())
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

// othersOfLook are the live nodes of regular files with links made
// with look lk, but not.
func (t *identities) othersOfLook(lk look, not *Node) []*Node {
	var out []*Node
	for _, c := range t.byLook[lk] {
		if c != not {
			out = append(out, c)
		}
	}
	return out
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

// addLook files n, a regular file with links, under its look. Caller
// holds mu.
func (t *identities) addLook(n *Node, lk look) {
	if n.hasLook {
		return
	}
	n.look, n.hasLook = lk, true
	t.byLook[lk] = append(t.byLook[lk], n)
}

// dropLook takes n from byLook. Caller holds mu.
func (t *identities) dropLook(n *Node) {
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
