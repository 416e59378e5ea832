package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// Bulk metadata. Where the server lets us run a command (remote.Tree:
// GNU find over an exec channel), a walk entering a directory the mount
// has not listed asks for the whole subtree below it, treeDepth levels,
// in one round trip, instead of a listing per directory: the answer
// fills the caches as listings would (remember, so every rule of
// fetch.go holds: an answer never replaces what a change of ours since
// established), and brings what SFTP v3 cannot tell at all: the server's
// inode numbers (the nodes' numbers, identity.go), link counts, change
// times and nanosecond mtimes. git's index, written on the server, then
// matches what the mount shows, and git status reads no file.
//
// It is the prefetch of prefetch.go made better, not beside it: a
// directory the walk or the prefetch would list is covered by the
// request on its way whose subtree holds it (the walk waits for it, as
// takePrefetched waits for a listing on its way), and the prefetch of a
// directory below the answer's depth asks for its subtree in bulk.
// Bounded: treeParallel requests at once, treeMaxEntries entries read of
// one (the directories it had not finished are not taken as listed), and
// each entry is handed over as it is read (remote.Tree streams).
//
// Where the server runs no command (-o remote_commands=no, ForceCommand
// internal-sftp, directport) or has no GNU find, the first request fails
// and none is made again on this connection: the mount lists directory by
// directory as before, and numbers names by their path (fs/identity). The
// -d log says which, once.
const (
	treeDepth      = 3
	treeMaxEntries = 20_000
	treeParallel   = 2
)

type treeState struct {
	off   atomic.Bool            // no request is made: the server cannot answer one
	pause atomic.Int64           // no request is made before this (Unix nanoseconds): the last one failed
	said  atomic.Bool            // the mode was logged
	mode  atomic.Pointer[string] // the last answer's outcome, for TreeStatus
	slots chan struct{}

	mu       sync.Mutex               // guards inflight
	inflight map[string]chan struct{} // requests on their way, by the directory asked about; closed when its answer is kept
	asked    *cache.Map[bool]         // directories asked about within the listing timeout

	// told is what bulk answers said of each path, kept for toldFor
	// (bounded like any cache): what SFTP cannot say (inode number,
	// change time, nanoseconds), shown with a later SFTP answer that
	// still looks the same (withTold). Without it, each attribute
	// timeout would show a file changed to git and tar.
	told *cache.Map[toldAttr]

	// shown is the times each path was last shown with, and the look
	// they went with (shownTimes), kept for toldFor: a file that still
	// looks the same is shown the same mtime and ctime, whether the
	// answer came from SFTP (whole seconds, no ctime: mtime shown) or
	// from a bulk answer (nanoseconds, the server's ctime). Otherwise the
	// first bulk answer after an SFTP one would look like a change to
	// tar ("file changed as we read it") and to git.
	shown *cache.Map[shownTimes]
}

// shownTimes is what shown keeps of a path.
type shownTimes struct {
	size         uint64
	mode         uint32
	uid, gid     uint32
	mtime, ctime int64 // as shown: Unix nanoseconds (packTime)
}

// keptTimes is a, about to be shown for rel, with the mtime and ctime
// rel was shown with before, if it still looks the same (the same size,
// type, mode, owner and mtime to the second); else a, remembered. Only
// where bulk answers may come: without them every answer has the same
// precision.
func (f *FS) keptTimes(rel string, a remote.Attr) remote.Attr {
	if f.tree.off.Load() || f.tree.shown == nil {
		return a
	}
	ctime := a.Ctime
	if ctime.IsZero() {
		ctime = a.Mtime // as fillAttr shows it
	}
	p, ok := f.tree.shown.Get(rel)
	if ok && p.size == a.Size && p.mode == uint32(a.Mode) && p.uid == a.UID && p.gid == a.GID && remote.SameMtime(unpackTime(p.mtime), a.Mtime) {
		a.Mtime, a.Ctime = unpackTime(p.mtime), unpackTime(p.ctime)
		return a
	}
	f.tree.shown.Put(rel, shownTimes{a.Size, uint32(a.Mode), a.UID, a.GID, packTime(a.Mtime), packTime(ctime)})
	return a
}

// toldAttr is what told keeps of a path: the attribute cache's 40 bytes
// (which keep an mtime's nanoseconds but not what SFTP never tells), and
// the rest.
type toldAttr struct {
	packedAttr
	ctime    int64
	dev, ino uint64
}

func tell(a remote.Attr) toldAttr {
	return toldAttr{pack(a), packTime(a.Ctime), a.Dev, a.Ino}
}

func (t toldAttr) unpack() remote.Attr {
	a := t.packedAttr.unpack()
	a.Ctime, a.Dev, a.Ino = unpackTime(t.ctime), t.dev, t.ino
	return a
}

const toldFor = time.Hour

func newTreeState(c Caches) treeState {
	return treeState{slots: make(chan struct{}, treeParallel), inflight: map[string]chan struct{}{},
		asked: cache.NewLimited[bool](c.Dir, c.Limits), told: cache.NewLimited[toldAttr](toldFor, c.Limits),
		shown: cache.NewLimited[shownTimes](toldFor, c.Limits)}
}

// withTold is a, an answer about rel, with what a bulk answer told of
// the same file and SFTP cannot (see told): while the file shows the
// same size, type, mode, owner and mtime (to the second), it is the same
// file, unchanged.
func (f *FS) withTold(rel string, a remote.Attr) remote.Attr {
	if a.Ino != 0 || f.opts.SeparateLinks {
		return a
	}
	p, ok := f.tree.told.Get(rel)
	if !ok {
		return a
	}
	old := p.unpack()
	if old.Size != a.Size || old.Mode != a.Mode || old.UID != a.UID || old.GID != a.GID || !remote.SameMtime(old.Mtime, a.Mtime) {
		return a
	}
	a.Dev, a.Ino, a.Ctime, a.Mtime = old.Dev, old.Ino, old.Ctime, old.Mtime
	if a.Nlink == 0 {
		a.Nlink = old.Nlink
	}
	return a
}

// treeOn reports whether bulk requests are made.
func (f *FS) treeOn() bool {
	return !f.tree.off.Load() && time.Now().UnixNano() >= f.tree.pause.Load() && f.opts.Caches.Attr > 0 && f.opts.Caches.Dir > 0
}

// treePause is how long no request is made after one that failed with
// nothing read (a server too slow to start the shell within -o timeout,
// a refused channel): the walks that would wait for it list as before.
const treePause = 30 * time.Second

// covering is the request on its way whose answer lists dir, if any.
// Caller holds f.tree.mu.
func (f *FS) covering(dir string) chan struct{} {
	for up, depth := dir, 0; depth < treeDepth; depth++ {
		if ch := f.tree.inflight[up]; ch != nil {
			return ch
		}
		if up == "" {
			break
		}
		up = parentOf(up)
	}
	return nil
}

// bulkFor makes sure dir's listing comes from a bulk answer, asking for
// its subtree unless a request on its way covers it or it was asked
// about lately, and waits for the answer within ctx. It reports whether
// dir's listing is now cached.
func (f *FS) bulkFor(ctx context.Context, dir string) bool {
	if !f.treeOn() {
		return false
	}
	if _, ok := f.listings.Get(dir); ok {
		return true
	}
	wait := f.startTree(dir)
	if wait == nil {
		return false
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return false
	}
	_, ok := f.listings.Get(dir)
	return ok
}

// startTree starts a request for dir's subtree, unless one on its way
// covers dir (whose channel it returns) or dir was asked about within
// the listing timeout (nil).
func (f *FS) startTree(dir string) chan struct{} {
	t := &f.tree
	t.mu.Lock()
	if ch := f.covering(dir); ch != nil {
		t.mu.Unlock()
		return ch
	}
	if _, ok := t.asked.Get(dir); ok {
		t.mu.Unlock()
		return nil
	}
	t.asked.Put(dir, true)
	ch := make(chan struct{})
	t.inflight[dir] = ch
	t.mu.Unlock()
	f.bg.Go(func(ctx context.Context) {
		defer func() {
			t.mu.Lock()
			delete(t.inflight, dir)
			t.mu.Unlock()
			close(ch)
		}()
		select {
		case t.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-t.slots }()
		f.fillTree(ctx, dir)
	})
	return ch
}

// errTreeFull ends a walk at treeMaxEntries.
var errTreeFull = errors.New("tree: entry bound reached")

// fillTree asks for dir's subtree and keeps what it tells.
func (f *FS) fillTree(ctx context.Context, dir string) {
	f.quiesce(ctx, sendHeld, paths(under(dir)))
	tok, began := f.changed.Begin(), time.Now()
	defer f.changed.End(tok)
	var (
		open  []string                         // directories being listed, each inside the one before
		lists = map[string][]remote.DirEntry{} // their entries so far
		done  []string                         // directories whose every entry came, in order
		self  remote.Attr
		n     int
	)
	err := f.remote.Tree(ctx, dir, treeDepth, func(e remote.TreeEntry) error {
		if n++; n > treeMaxEntries {
			return errTreeFull
		}
		for len(open) > 0 && !within(open[len(open)-1], e.Path) {
			done = append(done, open[len(open)-1])
			open = open[:len(open)-1]
		}
		if e.Depth == 0 {
			self = e.Attr
		} else if len(open) > 0 && open[len(open)-1] == parentOf(e.Path) {
			p := open[len(open)-1]
			lists[p] = append(lists[p], remote.DirEntry{Name: baseOf(e.Path), Attr: e.Attr})
		}
		if e.Attr.Mode&os.ModeSymlink != 0 {
			f.learnedTarget(e.Path, e.Target)
		}
		if e.Attr.Mode.IsDir() && e.Depth < treeDepth && !e.Unlisted {
			open = append(open, e.Path)
			lists[e.Path] = []remote.DirEntry{}
		}
		return nil
	})
	if err == nil {
		done = append(done, open...) // find ended: every directory it entered is whole
	}
	f.treeMode(err)
	if err != nil && n == 0 && !f.tree.off.Load() {
		f.tree.pause.Store(time.Now().Add(treePause).UnixNano())
		if f.opts.Debug != nil {
			f.opts.Debug.Printf("bulk metadata: paused for %v: %v", treePause, err)
		}
	}
	if f.opts.Debug != nil {
		f.opts.Debug.Printf("bulk %q: %d entries, %d directories listed, in %v (%v)", "/"+dir, n, len(done), time.Since(began).Round(time.Microsecond), err)
	}
	if err != nil && len(done) == 0 {
		return
	}
	if self.Ino != 0 && f.learnedAttr(dir, self, tok) {
		f.tree.told.Put(dir, tell(self))
	}
	for _, d := range done {
		kept := f.remember(d, lists[d], tok)
		if len(kept) > 0 {
			// A walk reading files in the directory (git status
			// checking them, grep -r) fetches the next ones ahead.
			f.orderAhead(d, kept)
		}
		for _, e := range kept {
			if e.Attr.Ino == 0 {
				continue
			}
			rel := joinRel(d, e.Name)
			if !f.answerHolds(rel, tok) {
				continue
			}
			f.tree.told.Put(rel, tell(e.Attr))
			if !e.Attr.Mode.IsDir() && !f.opts.SeparateLinks {
				f.objects.byPath.Put(rel, remote.FindObject(e.Attr))
			}
		}
		delete(lists, d)
	}
}

// treeMode turns bulk requests off for this connection when the server
// cannot answer one, and says under -d, once, which mode the mount is in.
func (f *FS) treeMode(err error) {
	off := errors.Is(err, remote.ErrNoCommands) || errors.Is(err, remote.ErrNoTree)
	if off {
		f.tree.off.Store(true)
	}
	mode := fmt.Sprintf("on: GNU find on the server, %d levels a request", treeDepth)
	switch {
	case off:
		mode = fmt.Sprintf("off: %v", err)
	case err != nil:
		mode = fmt.Sprintf("on; the last request failed: %v", err)
	}
	f.tree.mode.Store(&mode)
	if f.opts.Debug == nil || (!off && err != nil) || f.tree.said.Swap(true) {
		return
	}
	if off {
		f.opts.Debug.Printf("bulk metadata: off (%v): directories are listed one by one, inode numbers are the mount's own", err)
	} else {
		f.opts.Debug.Printf("bulk metadata: on (GNU find on the server, %d levels a request): the server's inode numbers and change times", treeDepth)
	}
}

// TreeStatus is the bulk metadata's mode in one line, for `sftpmount
// status`: off and why, paused after a failure, on, or not yet asked.
func (f *FS) TreeStatus() string {
	switch {
	case !f.remote.RunsCommands():
		return "off: -o remote_commands=no"
	case f.opts.Caches.Attr <= 0 || f.opts.Caches.Dir <= 0:
		return "off: the attribute or directory cache is off"
	case !f.tree.off.Load() && time.Now().UnixNano() < f.tree.pause.Load():
		return fmt.Sprintf("paused until %s (the last request read nothing): listed one by one meanwhile", time.Unix(0, f.tree.pause.Load()).Format("15:04:05"))
	}
	if m := f.tree.mode.Load(); m != nil {
		return *m
	}
	return "not asked yet (the first directory a walk enters asks)"
}

// within reports whether rel is dir or below it.
func within(dir, rel string) bool {
	return dir == "" || rel == dir || strings.HasPrefix(rel, dir+"/")
}

func baseOf(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[i+1:]
	}
	return rel
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
