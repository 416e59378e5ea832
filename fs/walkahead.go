package fs

import (
	"context"
	"errors"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// Reading a tree file after file (grep -r, tar -c, cp -r out of the
// mount, rsync's sender, `cat *`) costs each file an open and a first
// read, one round trip after the other, and the walk waits for each file
// in turn. When the files of one directory are opened for reading one
// after another in the order the directory was listed to the kernel, or
// in the order of their names, the next files are fetched ahead, several
// at once (remote.Peek: open, then fstat and the first aheadBytes read
// together, the handle closed at once). The open of a file fetched so
// asks the server nothing and its first reads are answered from here,
// under openLazily's rule: what the server said within open_timeout.
//
// Bounds: nothing before two opens in a row follow an order (a random
// pattern fetches nothing; a walk that goes on into another directory
// within a second counts that directory's first file as following, and
// has its first 32 files fetched as soon as it is listed, or, when that
// directory follows the one just read in their parent's listing and was
// listed ahead, as soon as the last files of the one before are on their
// way); then 4 files ahead, doubling with each open
// in order up to aheadFiles; aheadParallel fetches in flight across the
// mount; every fetch takes aheadBytes of the shared buffer budget first
// (none is started when it is spent), and what is not opened within
// open_timeout is dropped and its memory given back. A file whose size
// is known to be past aheadMaxSize, or which is not a regular file, is
// not fetched. A directory keeps its order only up to aheadOrderMax
// files.
const (
	aheadFiles    = 32
	aheadParallel = 32
	aheadBytes    = 128 << 10
	aheadMaxSize  = 2 << 20 // past it the file's own transfer hides its open
	aheadOrderMax = 20000
	aheadFirst    = aheadFiles // fetched of a directory a walk going on lists
)

// dirOrder is the order a directory's regular files were listed to the
// kernel, and the order of their names; subdirs, its subdirectories as
// listed (a walk goes into them in that order).
type dirOrder struct {
	listed, sorted     []string
	listedAt, sortedAt map[string]int
	subdirs            []string
}

func newDirOrder(listed, subdirs []string) *dirOrder {
	o := &dirOrder{listed: listed, subdirs: subdirs, sorted: append([]string(nil), listed...),
		listedAt: make(map[string]int, len(listed)), sortedAt: make(map[string]int, len(listed))}
	sort.Strings(o.sorted)
	for i, n := range o.listed {
		o.listedAt[n] = i
	}
	for i, n := range o.sorted {
		o.sortedAt[n] = i
	}
	return o
}

// dirWalk is what the opens in one directory have shown so far.
type dirWalk struct {
	ord            *dirOrder
	listed, sorted int  // the last open's place in each order
	run            int  // opens in a row that followed byName's order
	byName         bool // the order the run follows
	upTo           int  // fetches were started up to this place in it
	chained        bool // the next directory's first files were fetched
}

// aheadFile is one file fetched ahead; done is closed once the fields
// below it are set.
type aheadFile struct {
	tok  cache.Token // taken before the open was sent; given back when taken or dropped
	at   time.Time   // when the open was sent: what it learned is as old
	cost int64       // of the buffer budget

	done  chan struct{}
	a     remote.Attr
	data  []byte
	whole bool
	err   error
}

// walkAhead is the mount's state for fetching ahead of walks.
type walkAhead struct {
	orders *cache.Map[*dirOrder]
	slots  *semaphore.Weighted // bounds fetches in flight

	mu      sync.Mutex // guards walks and files
	walks   map[string]*dirWalk
	files   map[string]*aheadFile
	lastRun time.Time // when an open last followed an order
}

func newWalkAhead(c Caches) *walkAhead {
	return &walkAhead{orders: cache.NewLimited[*dirOrder](c.Dir, c.Limits), slots: semaphore.NewWeighted(aheadParallel),
		walks: map[string]*dirWalk{}, files: map[string]*aheadFile{}}
}

// listedOrder records the order in which dir's regular files (names)
// and subdirectories were listed to the kernel, once a listing was
// handed out to its end (handedOut), or made ahead of a walk (see
// prefetch.go: recorded only, for nextDirFilesLocked).
func (f *FS) listedOrder(dir string, names, subdirs []string, handedOut bool) {
	if f.opts.Caches.Open <= 0 || f.opts.DirectIO || len(names)+len(subdirs) > aheadOrderMax {
		return
	}
	w := f.ahead
	ord := newDirOrder(names, subdirs)
	w.orders.Put(dir, ord)
	w.mu.Lock()
	var next []string
	if wk := w.walks[dir]; wk != nil && !handedOut {
		wk.ord = ord // a walk started on the names made ahead goes on
	} else {
		delete(w.walks, dir) // a walk of the old order is over
	}
	if handedOut && time.Since(w.lastRun) < time.Second {
		// A walk going on lists its next directory (grep -r and tar
		// read a directory whole, then its files): its first files
		// are fetched before the first open asks for them.
		wk := &dirWalk{ord: ord, listed: -1, sorted: -1, run: 1, upTo: -1}
		for i := 0; i < len(names) && i < aheadFirst; i++ {
			wk.upTo = i
			next = append(next, path.Join(dir, names[i]))
		}
		w.walks[dir] = wk
	}
	w.mu.Unlock()
	f.fetchAll(next)
}

// fetchAll fetches paths ahead, in order, until the budget is spent.
func (f *FS) fetchAll(paths []string) {
	for _, p := range paths {
		if !f.fetchAhead(p) {
			return
		}
	}
}

// walkStep notes an open of rel for reading and, when it follows the
// opens before it in an order of its directory, fetches the next files.
func (f *FS) walkStep(rel string) {
	if f.opts.Caches.Open <= 0 || f.opts.DirectIO {
		return
	}
	w := f.ahead
	dir, name := parentOf(rel), path.Base(rel)
	ord, ok := w.orders.Get(dir)
	if !ok {
		return
	}
	li, ok := ord.listedAt[name]
	if !ok {
		return
	}
	si := ord.sortedAt[name]
	w.mu.Lock()
	wk := w.walks[dir]
	if wk == nil || wk.ord != ord {
		if len(w.walks) >= 4*aheadParallel {
			clear(w.walks) // bounded; a walk dropped starts over
		}
		wk = &dirWalk{ord: ord, listed: -2, sorted: -2}
		if time.Since(w.lastRun) < time.Second {
			// A walk going on from another directory: its first file
			// counts as the run's next.
			wk.listed, wk.sorted = -1, -1
		}
		w.walks[dir] = wk
	}
	var next []string
	for _, name := range wk.next(li, si) {
		next = append(next, path.Join(dir, name))
	}
	if wk.run > 0 {
		w.lastRun = time.Now()
		if wk.upTo >= len(ord.listed)-1 && !wk.chained {
			// The last of dir's files are on their way: the walk goes
			// next into the directory after dir in its parent's order.
			wk.chained = true
			next = append(next, f.nextDirFilesLocked(dir)...)
		}
	}
	w.mu.Unlock()
	f.fetchAll(next)
}

// nextDirFilesLocked starts a walk in the directory that follows dir in
// its parent's listed order, if its order is known (its listing was made
// ahead), and returns its first files to fetch. w.mu is held.
func (f *FS) nextDirFilesLocked(dir string) []string {
	w := f.ahead
	if dir == "" {
		return nil
	}
	parent := parentOf(dir)
	pord, ok := w.orders.Get(parent)
	if !ok {
		return nil
	}
	i := slices.Index(pord.subdirs, path.Base(dir))
	if i < 0 || i+1 >= len(pord.subdirs) {
		return nil
	}
	next := path.Join(parent, pord.subdirs[i+1])
	ord, ok := w.orders.Get(next)
	if !ok || w.walks[next] != nil {
		return nil
	}
	wk := &dirWalk{ord: ord, listed: -1, sorted: -1, run: 1, upTo: -1}
	var files []string
	for j := 0; j < len(ord.listed) && j < aheadFirst; j++ {
		wk.upTo = j
		files = append(files, path.Join(next, ord.listed[j]))
	}
	w.walks[next] = wk
	return files
}

// next notes an open of the file at li in the listed order and si in
// the name order, and returns the names to fetch ahead now: none unless
// it follows the open before in one of them, then the window past it.
func (wk *dirWalk) next(li, si int) []string {
	inListed, inSorted := li == wk.listed+1, si == wk.sorted+1
	byName := inSorted && (!inListed || wk.run > 0 && wk.byName)
	switch {
	case !inListed && !inSorted:
		wk.run = 0
	case wk.run > 0 && byName != wk.byName:
		wk.run, wk.byName = 1, byName // the other order from here
	default:
		wk.run, wk.byName = wk.run+1, byName
	}
	wk.listed, wk.sorted = li, si
	names, at := wk.ord.listed, li
	if wk.byName {
		names, at = wk.ord.sorted, si
	}
	if wk.run <= 1 {
		wk.upTo = at // a new run: nothing fetched ahead of it yet
	}
	if wk.run == 0 {
		return nil
	}
	var next []string
	window := min(aheadFiles, 4<<min(wk.run-1, 3))
	for i := max(wk.upTo+1, at+1); i < len(names) && i <= at+window; i++ {
		wk.upTo = i
		next = append(next, names[i])
	}
	return next
}

// fetchAhead starts fetching rel ahead of a walk, unless it is being
// fetched already or is known not to be worth it. It reports false when
// the buffer budget is spent.
func (f *FS) fetchAhead(rel string) bool {
	a, known := f.attrs.Get(rel)
	if known && (!a.Mode.IsRegular() || a.Size > aheadMaxSize) {
		return true
	}
	w := f.ahead
	w.mu.Lock()
	if _, ok := w.files[rel]; ok {
		w.mu.Unlock()
		return true
	}
	if !f.buffers.TryTake(aheadBytes) {
		w.mu.Unlock()
		return false
	}
	e := &aheadFile{tok: f.changed.Begin(), cost: aheadBytes, done: make(chan struct{})}
	w.files[rel] = e
	w.mu.Unlock()
	if f.opts.Debug != nil {
		f.opts.Debug.Printf("fetching %q ahead of a walk", "/"+rel)
	}
	f.bg.Go(func(ctx context.Context) {
		w.slots.Acquire(context.Background(), 1) // cannot fail: no deadline
		e.at = time.Now()
		var (
			data  []byte
			whole bool
			err   error
		)
		if !known {
			// Opened only once it is known to be a regular file: a FIFO
			// put in a file's place on the server would hold the open,
			// and sftp-server's session with it, until a writer came.
			a, err = f.remote.Lstat(ctx, rel)
			if err == nil && (!a.Mode.IsRegular() || a.Size > aheadMaxSize) {
				err = errNotAhead
			}
		}
		if err == nil {
			a, data, whole, err = f.remote.Peek(ctx, rel, aheadBytes)
		}
		w.slots.Release(1)
		e.a, e.data, e.whole, e.err = a, data, whole, err
		if left := int64(cap(data)); err != nil || left < e.cost {
			f.buffers.Give(e.cost - left)
			e.cost = left
		}
		close(e.done)
		// Not taken within open_timeout: of no use any more.
		time.AfterFunc(f.opts.Caches.Open, func() { f.dropAhead(rel, e) })
	})
	return true
}

// errNotAhead: a name the walk met is no regular file of a size worth
// fetching ahead.
var errNotAhead = errors.New("not a file to fetch ahead")

// dropAhead forgets e, fetched ahead at rel, unless taken already.
func (f *FS) dropAhead(rel string, e *aheadFile) {
	w := f.ahead
	w.mu.Lock()
	mine := w.files[rel] == e
	if mine {
		delete(w.files, rel)
	}
	w.mu.Unlock()
	if mine {
		f.changed.End(e.tok)
		f.buffers.Give(e.cost)
	}
}

// takeAhead returns what was fetched ahead at rel, when it may answer an
// open now: fetched within open_timeout, and no change of ours to rel
// since it was asked. If it is on its way, it waits for it, or with wait
// false leaves it be. The caller owns its cost of the budget.
func (f *FS) takeAhead(ctx context.Context, rel string, wait bool) *aheadFile {
	w := f.ahead
	w.mu.Lock()
	e := w.files[rel]
	if e != nil && !wait {
		select {
		case <-e.done:
		default:
			e = nil
		}
	}
	if e != nil {
		delete(w.files, rel)
	}
	w.mu.Unlock()
	if e == nil {
		return nil
	}
	defer f.changed.End(e.tok)
	select {
	case <-e.done:
	case <-ctx.Done():
		f.bg.Go(func(context.Context) { <-e.done; f.buffers.Give(e.cost) })
		return nil
	}
	ok := e.err == nil && e.a.Mode.IsRegular() && time.Since(e.at) <= f.opts.Caches.Open &&
		f.learnedAttr(rel, e.a, e.tok)
	if !ok {
		f.buffers.Give(e.cost)
		return nil
	}
	return e
}

// read answers a read at off from the bytes fetched ahead; ok is false
// when they do not hold all of it: the first n bytes are theirs, the rest
// the file's to read.
func (e *aheadFile) read(p []byte, off int64) (n int, eof bool, ok bool) {
	if off >= int64(len(e.data)) {
		return 0, e.whole, e.whole
	}
	n = copy(p, e.data[off:])
	if n == len(p) {
		return n, false, true
	}
	return n, e.whole, e.whole
}
