package fs

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// Write-back (-o writeback): a file made through the mount is written
// into a local journal (cache.Journal), and close(2) returns once its
// bytes and attributes are synced there, with no round trip at all: the
// create is answered here too. Uploads run in the background, many at
// once. Each goes to a temporary name beside the file (wbTempPrefix),
// which is renamed over the file's name once its bytes, mode and times
// are there: other clients see the whole file or nothing, and a crash
// half-way leaves only the temporary name, which the next upload replaces.
//
// While a file waits, this mount answers for it from the journal:
// lookups, stat, listings, reads, more writes, chmod, utimes and
// truncate. What must reach the server in order waits for the upload
// first: a rename of a file whose upload has begun, a rename or rmdir of
// a directory above waiting files, a hard link to one, fsync. A rename
// or unlink of a file not yet begun is done in the journal alone.
//
// An upload that finds something else at the name than what was there
// when the file was begun (another client made or changed it) does not
// replace it: the file goes to name.sftpmount-conflict-TIME beside it,
// and a line on stderr says so.
//
// An upload that fails is retried: at once after a lost connection (the
// client reconnects), and, for an error the server gave (no space, no
// permission), at `sftpmount sync`, at unmount, and at the next mount.
// Unmount waits for the queue and names every file not uploaded, which
// stays in the journal; the next mount of the same remote directory
// uploads it, with or without -o writeback.
//
// Only files made new are written back; writes to files that exist on
// the server go to it as without -o writeback.

// wbTempPrefix begins the temporary names of uploads; listings pass them over.
const wbTempPrefix = ".sftpmount-wb-"

// wbWorkers is how many uploads run at once.
const wbWorkers = 32

// Writeback configures write-back; see Options.Writeback.
type Writeback struct {
	Journal *cache.Journal
	// New files go to the journal. False: the journal's files (left by
	// an earlier mount) are uploaded, and nothing new is added.
	On    bool
	Limit int64 // bytes the journal may hold before new files go straight to the server
	// Delay is how long after its last close a file waits before its
	// upload begins (-o writeback_delay): a lock file renamed, a
	// temporary file removed within it costs the server nothing.
	Delay time.Duration
	// Notice prints one line on stderr (conflicts, failures).
	Notice func(string)
}

type wbState int

const (
	wbQueued wbState = iota
	wbUploading
	wbFailed // the server refused; retried at sync, unmount, next mount
	wbDone   // uploaded, dropped or replaced
)

// wbFile is one file in the journal.
type wbFile struct {
	e       cache.JournalEntry // guarded by writeback.mu
	data    *os.File
	handles int         // handles open on data; closed once none is and the file is done
	shown   remote.Attr // what the mount shows of it (uid, gid predicted)
	writers int         // writable handles open: no upload until 0, unless forced
	forced  bool        // upload now, writers or not (fsync, a rename above it)
	after   time.Time   // not uploaded before (Writeback.Delay after its last close), unless forced
	dirty   bool        // changed since the journal's record was made
	synced  bool        // the record and bytes are on disk (false after a Record)
	saveMu  sync.Mutex  // one save at a time, so the journal's last record is the newest (save)
	state   wbState
	err     error
	tries   int
	done    chan struct{} // closed when the state becomes wbDone or wbFailed
}

type writeback struct {
	f     *FS
	cfg   Writeback
	mu    sync.Mutex
	cond  *sync.Cond
	files map[string]*wbFile // by path; wbDone ones are not here
	queue []*wbFile
	bytes int64
	// Times set on a directory while files of ours in it wait: set
	// again once the last of them is uploaded, whose rename into the
	// directory changes its mtime (tar sets a directory's times after
	// its files). In the journal too, as Dir entries.
	dirTimes map[string]cache.JournalEntry
	active   int // uploads running

	uploaded, uploadedBytes, conflicted atomic.Int64
}

func newWriteback(f *FS, cfg Writeback) *writeback {
	w := &writeback{f: f, cfg: cfg, files: map[string]*wbFile{}}
	w.cond = sync.NewCond(&w.mu)
	if cfg.Notice == nil {
		w.cfg.Notice = func(string) {}
	}
	return w
}

// load takes the journal's files, left by an earlier mount, into the
// queue: shown by the mount at once, uploaded in the background.
func (w *writeback) load() (int, error) {
	entries, err := w.cfg.Journal.Entries()
	if err != nil {
		return 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range entries {
		if e.Dir {
			if w.dirTimes == nil {
				w.dirTimes = map[string]cache.JournalEntry{}
			}
			if had, ok := w.dirTimes[e.Path]; ok {
				// A crash between a record and the removal of the one
				// before it: the newer counts.
				if had.Made > e.Made {
					had, e = e, had
				}
				w.cfg.Journal.Remove(had.ID)
			}
			w.dirTimes[e.Path] = e
			continue
		}
		d, err := w.cfg.Journal.OpenData(e.ID) // no symlink, ours, one name
		if err != nil {
			return 0, fmt.Errorf("journal %s: %v", w.cfg.Journal.Dir(), err)
		}
		// Bytes past the record's size were never acknowledged.
		d.Truncate(e.Size)
		wf := &wbFile{e: e, data: d, synced: true, done: make(chan struct{})}
		wf.shown = w.attrOf(wf)
		if old := w.files[e.Path]; old != nil {
			// Two records for one name (a crash between a rename in the
			// journal and its record): the newer one wins.
			w.dropLocked(old)
		}
		w.files[e.Path] = wf
		w.queue = append(w.queue, wf)
		w.bytes += e.Size
	}
	w.cond.Broadcast()
	return len(entries), nil
}

func (w *writeback) start() {
	for i := 0; i < wbWorkers; i++ {
		go w.worker()
	}
	go w.recorder()
}

// recordEvery is how often the records of files changed after their
// close (tar's utimes, chown and chmod come after it) are written to
// the journal, unsynced: each change writing its own would cost a file
// and a rename, and each sync a disk flush.
const recordEvery = 500 * time.Millisecond

// recorder writes, every recordEvery, the records of closed files
// changed since theirs was written; the filesystem under the journal
// makes them durable at its next commit (5 s on ext4), as it would the
// same chmod on a local disk. An upload writes nothing it has not
// recorded first (see worker).
func (w *writeback) recorder() {
	for range time.Tick(recordEvery) {
		w.mu.Lock()
		var dirty []*wbFile
		for _, wf := range w.files {
			if wf.dirty && wf.writers == 0 && wf.state == wbQueued {
				dirty = append(dirty, wf)
			}
		}
		w.mu.Unlock()
		for _, wf := range dirty {
			w.save(wf, false)
		}
	}
}

// attrOf is what the mount shows of wf: its journal record, and the
// owner the server gives new files.
func (w *writeback) attrOf(wf *wbFile) remote.Attr {
	a := wf.shown
	if a.Mode == 0 {
		a.UID, a.GID = w.f.remote.LoginOwner()
		if p, ok := w.f.newFiles.Get(parentOf(wf.e.Path)); ok {
			a.UID, a.GID = p.UID, p.GID
		}
	}
	if wf.e.UID != nil {
		a.UID = *wf.e.UID
	}
	if wf.e.GID != nil {
		a.GID = *wf.e.GID
	}
	a.Mode = os.FileMode(wf.e.Mode).Perm() | goMode(wf.e.Mode)&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
	a.Size = uint64(wf.e.Size)
	if wf.data != nil {
		if fi, err := wf.data.Stat(); err == nil {
			a.Size = uint64(fi.Size()) // written since the last close too
		}
	}
	// In whole seconds, as the server keeps them (SFTP v3): what git's
	// index records now must still match once the file is uploaded.
	a.Atime, a.Mtime = time.Unix(0, wf.e.Atime).Truncate(time.Second), time.Unix(0, wf.e.Mtime).Truncate(time.Second)
	return a
}

// get is the journal's file at rel, if one waits there.
func (w *writeback) get(rel string) *wbFile {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.files[rel]
}

// attr is what the mount shows at rel when a file waits there.
func (w *writeback) attr(rel string) (remote.Attr, bool) {
	if w == nil {
		return remote.Attr{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	wf := w.files[rel]
	if wf == nil {
		return remote.Attr{}, false
	}
	return wf.shown, true
}

// in is the names of the files waiting in dir, with what they show.
func (w *writeback) in(dir string) map[string]remote.Attr {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out map[string]remote.Attr
	for p, wf := range w.files {
		if parentOf(p) == dir {
			if out == nil {
				out = map[string]remote.Attr{}
			}
			out[path.Base(p)] = wf.shown
		}
	}
	return out
}

// room reports whether a new file may go to the journal: write-back on,
// and the journal under its limit.
func (w *writeback) room() bool {
	if w == nil || !w.cfg.On {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg.Limit <= 0 || w.bytes < w.cfg.Limit
}

// create begins a new file at rel in the journal, with mode perm.
func (w *writeback) create(rel string, perm os.FileMode) (*wbFile, error) {
	id, d, err := w.cfg.Journal.NewData()
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	wf := &wbFile{
		e:     cache.JournalEntry{ID: id, Path: rel, Mode: sysMode(perm) &^ syscall.S_IFMT, Atime: now, Mtime: now, Made: now},
		data:  d,
		dirty: true,
		done:  make(chan struct{}),
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	wf.shown = w.attrOf(wf)
	if old := w.files[rel]; old != nil {
		w.dropLocked(old) // the kernel had it looked up as absent: gone meanwhile
	}
	w.files[rel] = wf
	return wf, nil
}

// change applies fn to wf's record, if wf still waits and has not begun
// uploading; the record is then written again (not synced: close and
// fsync do that). false: wf is uploading or gone, and the caller goes to
// the server once wait has returned.
func (w *writeback) change(wf *wbFile, fn func(e *cache.JournalEntry) error) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.state != wbQueued && wf.state != wbFailed || w.files[wf.e.Path] != wf {
		return false, nil
	}
	if err := fn(&wf.e); err != nil {
		return true, err
	}
	if wf.state == wbFailed {
		wf.state, wf.err = wbQueued, nil
		wf.done = make(chan struct{})
		w.queue = append(w.queue, wf)
	}
	wf.dirty = true
	wf.shown = w.attrOf(wf)
	w.cond.Broadcast()
	return true, nil
}

// commit makes wf's bytes and record durable in the journal (close,
// fsync).
func (w *writeback) commit(wf *wbFile) error { return w.save(wf, true) }

// save writes wf's record, and with durable its bytes and record to
// disk (cache.Journal's Commit and Record).
func (w *writeback) save(wf *wbFile, durable bool) error {
	// Taken before w.mu and held across the journal's write: records
	// reach the journal in the order their states were taken.
	wf.saveMu.Lock()
	defer wf.saveMu.Unlock()
	w.mu.Lock()
	if !wf.dirty && (wf.synced || !durable) {
		w.mu.Unlock()
		return nil
	}
	fi, err := wf.data.Stat()
	if err != nil {
		w.mu.Unlock()
		return err
	}
	w.bytes += fi.Size() - wf.e.Size
	wf.e.Size = fi.Size()
	wf.after = time.Now().Add(w.cfg.Delay)
	wf.shown = w.attrOf(wf)
	e := wf.e
	wf.dirty = false
	w.mu.Unlock()
	save := func() error { return w.cfg.Journal.Record(e) }
	if durable {
		save = func() error { return w.cfg.Journal.Commit(e, wf.data) }
	}
	err = save()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		wf.dirty = true
		return err
	}
	wf.synced = durable
	return nil
}

// open and release count wf's handles, and its writable ones: an
// upload waits for none of those. open fails once wf is done.
func (w *writeback) open(wf *wbFile, writable bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.data == nil || writable && (wf.state == wbUploading || wf.state == wbDone) {
		return false
	}
	wf.handles++
	if writable {
		wf.writers++
	}
	return true
}

func (w *writeback) release(wf *wbFile, writable bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wf.handles--
	w.closeDataLocked(wf)
	if writable {
		wf.writers--
	}
	if wf.writers == 0 && wf.state == wbQueued && w.files[wf.e.Path] == wf {
		w.enqueueLocked(wf)
	}
}

func (w *writeback) enqueueLocked(wf *wbFile) {
	// Always woken: a file queued before may have just become ready.
	defer w.cond.Broadcast()
	if d := time.Until(wf.after); d > 0 && !wf.forced {
		time.AfterFunc(d, func() {
			w.mu.Lock()
			w.cond.Broadcast()
			w.mu.Unlock()
		})
	}
	for _, q := range w.queue {
		if q == wf {
			return
		}
	}
	w.queue = append(w.queue, wf)
}

// wrote notes that wf's bytes changed (a write or truncate of its data).
func (w *writeback) wrote(wf *wbFile, end int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wf.dirty = true
	wf.e.Mtime = time.Now().UnixNano()
	if fi, err := wf.data.Stat(); err == nil {
		wf.shown.Size = uint64(fi.Size())
	}
	wf.shown.Mtime = time.Unix(0, wf.e.Mtime).Truncate(time.Second)
}

// drop forgets wf, not uploaded (an unlink before its upload began);
// onServer says the server still has what wf was to replace. false: its
// upload has begun; the caller waits and goes to the server.
func (w *writeback) drop(wf *wbFile) (dropped, onServer bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.state == wbUploading || w.files[wf.e.Path] != wf {
		return false, false
	}
	w.dropLocked(wf)
	return true, wf.e.BaseExists
}

func (w *writeback) dropLocked(wf *wbFile) {
	delete(w.files, wf.e.Path)
	w.bytes -= wf.e.Size
	w.cfg.Journal.Remove(wf.e.ID) // the data stays readable through open handles
	wf.state = wbDone
	w.closeDataLocked(wf)
	closeOnce(wf.done)
}

// closeDataLocked closes wf's data once it is done and no handle reads it.
func (w *writeback) closeDataLocked(wf *wbFile) {
	if wf.state == wbDone && wf.handles == 0 && wf.data != nil {
		wf.data.Close()
		wf.data = nil
	}
}

func closeOnce(c chan struct{}) {
	select {
	case <-c:
	default:
		close(c)
	}
}

// move renames wf to rel in the journal alone, when its upload has not
// begun and it was made here (nothing at its old name on the server).
// A file waiting at rel is replaced, as rename(2) replaces it.
func (w *writeback) move(wf *wbFile, to string, base *remote.Attr) bool {
	if !w.moveLocked(wf, to, base) {
		return false
	}
	// Recorded at once, as durable as a rename on the local disk.
	w.save(wf, false)
	return true
}

func (w *writeback) moveLocked(wf *wbFile, to string, base *remote.Attr) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.state == wbUploading || wf.e.BaseExists || w.files[wf.e.Path] != wf {
		return false
	}
	wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = false, 0, 0
	if old := w.files[to]; old != nil {
		if old.state == wbUploading {
			return false
		}
		// What the server has at to is what old found there.
		wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = old.e.BaseExists, old.e.BaseSize, old.e.BaseMtime
		w.dropLocked(old)
	} else if base != nil {
		wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = true, int64(base.Size), base.Mtime.UnixNano()
	}
	delete(w.files, wf.e.Path)
	wf.e.Path = to
	wf.dirty = true
	w.files[to] = wf
	return true
}

// renamed follows a rename made on the server (after wait) with the
// files still in the journal under from: those open for writing.
func (w *writeback) renamed(from, to string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	var moved []*wbFile
	for p, wf := range w.files {
		if p == from || strings.HasPrefix(p, from+"/") {
			moved = append(moved, wf)
		}
	}
	if old := w.files[to]; old != nil && to != from {
		w.dropLocked(old)
	}
	for _, wf := range moved {
		delete(w.files, wf.e.Path)
	}
	for _, wf := range moved {
		wf.e.Path = to + strings.TrimPrefix(wf.e.Path, from)
		wf.dirty = true
		w.files[wf.e.Path] = wf
	}
	w.mu.Unlock()
	for _, wf := range moved {
		w.commit(wf)
	}
}

// removed drops what is left in the journal at rel once it is removed
// on the server: a file still open for writing, whose writes now go to
// an unlinked file, as on a local disk.
func (w *writeback) removed(rel string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf := w.files[rel]; wf != nil && wf.state != wbUploading {
		w.dropLocked(wf)
	}
}

// wait returns once the uploads of the files match accepts that are in
// the journal now have ended: it starts those not begun, open for
// writing or not (a file still open stays in the journal for what comes
// next). Files whose upload failed are passed over.
func (w *writeback) wait(ctx context.Context, match func(rel string) bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	var cs []chan struct{}
	for p, wf := range w.files {
		if match(p) && wf.state != wbFailed {
			if wf.state == wbQueued {
				wf.forced = true
				w.enqueueLocked(wf)
			}
			cs = append(cs, wf.done)
		}
	}
	w.mu.Unlock()
	for _, c := range cs {
		select {
		case <-c:
		case <-ctx.Done():
			return
		}
	}
}

// setDirTimes notes times just set on directory dir, to be set again
// once the files of ours waiting in it are uploaded.
func (w *writeback) setDirTimes(dir string, a remote.Attr) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old, had := w.dirTimes[dir]
	for p := range w.files {
		if parentOf(p) == dir {
			if w.dirTimes == nil {
				w.dirTimes = map[string]cache.JournalEntry{}
			}
			// A new id each time (the journal writes no record of an
			// id after its Remove), the record before it removed once
			// this one is down.
			now := time.Now().UnixNano()
			sum := sha256.Sum256([]byte(dir))
			e := cache.JournalEntry{ID: fmt.Sprintf("dir-%x-%x", sum[:8], now), Path: dir, Dir: true,
				Atime: a.Atime.UnixNano(), Mtime: a.Mtime.UnixNano(), Made: now}
			w.dirTimes[dir] = e
			w.cfg.Journal.Commit(e, nil)
			if had {
				w.cfg.Journal.Remove(old.ID)
			}
			return
		}
	}
	if had {
		delete(w.dirTimes, dir)
		w.cfg.Journal.Remove(old.ID)
	}
}

// dirShown is a, the attributes of rel, with the times set on it if it
// is a directory whose uploads into it move its mtime meanwhile.
func (w *writeback) dirShown(rel string, a remote.Attr) remote.Attr {
	if w == nil || !a.Mode.IsDir() {
		return a
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.dirTimes[rel]; ok {
		a.Atime, a.Mtime = time.Unix(0, e.Atime), time.Unix(0, e.Mtime)
	}
	return a
}

// dirTimesDue takes the times to set again on dir, once no file of ours
// waits in it.
func (w *writeback) dirTimesDueLocked(dir string) (cache.JournalEntry, bool) {
	e, ok := w.dirTimes[dir]
	if !ok {
		return e, false
	}
	for p := range w.files {
		if parentOf(p) == dir {
			return e, false
		}
	}
	delete(w.dirTimes, dir)
	return e, true
}

// dirTimesLeft sets the directory times whose setting again an upload
// could not do (a lost connection), for directories no file waits in.
func (w *writeback) dirTimesLeft(ctx context.Context) {
	w.mu.Lock()
	var due []cache.JournalEntry
	for dir := range w.dirTimes {
		if e, ok := w.dirTimesDueLocked(dir); ok {
			due = append(due, e)
		}
	}
	w.mu.Unlock()
	for _, e := range due {
		a := remote.Attr{Atime: time.Unix(0, e.Atime), Mtime: time.Unix(0, e.Mtime)}
		if err := w.f.byPath(e.Path).Chtimes(ctx, a); err == nil || !isLost(err) {
			w.cfg.Journal.Remove(e.ID)
			w.f.attrs.Delete(e.Path)
		} else {
			w.mu.Lock()
			if _, newer := w.dirTimes[e.Path]; !newer {
				w.dirTimes[e.Path] = e // at the next mount, else
			}
			w.mu.Unlock()
		}
	}
}

// any reports whether a file match accepts is in the journal.
func (w *writeback) any(match func(rel string) bool) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for p := range w.files {
		if match(p) {
			return true
		}
	}
	return false
}

// settle waits for the upload of wf and returns its outcome.
func (w *writeback) settle(ctx context.Context, wf *wbFile) error {
	w.mu.Lock()
	if wf.state == wbFailed {
		wf.state, wf.err = wbQueued, nil
		wf.done = make(chan struct{})
	}
	if wf.state == wbQueued {
		wf.forced = true
		w.enqueueLocked(wf)
	}
	c := wf.done
	w.mu.Unlock()
	select {
	case <-c:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return wf.err
}

func (w *writeback) worker() {
	for {
		w.mu.Lock()
		var wf *wbFile
		for wf == nil {
			for i, q := range w.queue {
				ready := q.writers == 0 && !time.Now().Before(q.after)
				if (ready || q.forced) && q.state == wbQueued && w.files[q.e.Path] == q {
					wf = q
					w.queue = append(w.queue[:i:i], w.queue[i+1:]...)
					break
				}
			}
			if wf == nil {
				w.cond.Wait()
			}
		}
		// Begun: a retry after a lost connection waits for no delay,
		// and is forced if this one was (an fsync waits for it).
		forced := wf.forced
		wf.state, wf.forced, wf.after = wbUploading, false, time.Time{}
		wf.tries++
		e := wf.e
		w.active++
		w.mu.Unlock()

		var err error
		w.mu.Lock()
		dirty := wf.dirty
		w.mu.Unlock()
		if dirty {
			// What is uploaded is on record first: a crash after the
			// rename must find the record of what the server has.
			err = w.save(wf, false)
			w.mu.Lock()
			e = wf.e
			w.mu.Unlock()
		}
		if err == nil {
			err = w.upload(wf, e)
		}
		w.f.result("upload", e.Path, err, nil)

		w.mu.Lock()
		w.active--
		switch {
		case err == nil:
			// Done below, outside the lock.
		case errors.Is(err, errRoomNow) && wf.tries < roomTries:
			wf.state, wf.err = wbQueued, err
			wf.forced = wf.forced || forced
			w.enqueueLocked(wf)
		case !isLost(err):
			wf.state, wf.err = wbFailed, err
			closeOnce(wf.done)
		default:
			// A lost connection: again, once the client has had time to
			// reconnect.
			wf.state, wf.err = wbQueued, err
			wf.forced = wf.forced || forced
			time.AfterFunc(backoff(wf.tries), func() {
				w.mu.Lock()
				w.enqueueLocked(wf)
				w.mu.Unlock()
			})
		}
		failed := wf.state == wbFailed
		w.cond.Broadcast()
		w.mu.Unlock()
		if failed {
			w.cfg.Notice(fmt.Sprintf("upload of %s failed: %v; kept in the journal %s", "/"+e.Path, errnoText(err), w.cfg.Journal.Dir()))
		}
	}
}

// errRoomNow marks an upload that failed (SSH_FX_FAILURE) while the
// server's filesystem has room for the file: tried again at once, up to
// roomTries tries in all.
var errRoomNow = errors.New("failed, though the server has room now")

const roomTries = 3

func errnoText(err error) string {
	if errno := errnoOf(err); errno != 0 && errno != syscall.EIO {
		return errno.Error()
	}
	return err.Error()
}

// isLost tells a lost connection (retried) from the server's answer and
// from errors of our own (the journal's disk), which are not.
func isLost(err error) bool {
	if _, answered := statusCode(err); answered {
		return false
	}
	return errors.Is(err, remote.ErrConnectionLost) || errors.Is(err, remote.ErrTimeout) ||
		errors.Is(err, remote.ErrAbandoned) || errors.Is(err, remote.ErrStale)
}

func backoff(tries int) time.Duration {
	d := time.Duration(tries) * 500 * time.Millisecond
	return min(d, 10*time.Second)
}

// ownerAndTimes gives the upload's file rf the owner e records, if any,
// and times, through its handle, once its data is written.
func (w *writeback) ownerAndTimes(ctx context.Context, rf *remote.File, e cache.JournalEntry, times remote.Attr) error {
	if e.UID != nil || e.GID != nil {
		uid, gid := w.f.remote.LoginOwner()
		if e.UID != nil {
			uid = *e.UID
		}
		if e.GID != nil {
			gid = *e.GID
		}
		if err := rf.Chown(ctx, uid, gid); err != nil {
			return err
		}
	}
	return rf.Chtimes(ctx, times)
}

// upload sends wf (as e says it is) to a temporary name beside it, and
// renames that over e.Path, or beside it on a conflict.
func (w *writeback) upload(wf *wbFile, e cache.JournalEntry) error {
	f, rc := w.f, w.f.remote
	ctx := context.Background()
	// The same for every try of this file, by this mount or the next:
	// what a try cut off left there is removed and made anew, not left.
	tmp := path.Join(parentOf(e.Path), wbTempPrefix+e.ID[max(0, len(e.ID)-16):])
	type found struct {
		a   remote.Attr
		err error
	}
	there := make(chan found, 1)
	go func() {
		a, err := rc.Lstat(ctx, e.Path)
		there <- found{a, err}
	}()
	// Made exclusively: an open with O_TRUNC would follow a symlink
	// another server user put at the name (it shows in a listing once a
	// try has left it) and truncate and write its target. Whatever is
	// there is removed first (a removal never follows a link).
	rf, err := rc.OpenFile(ctx, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil && rc.Remove(ctx, tmp) == nil {
		rf, err = rc.OpenFile(ctx, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	}
	if err != nil {
		<-there
		return err
	}
	// Mode, owner and times go through rf's handle, before its close:
	// another server user who can write the directory may have swapped
	// tmp for a symlink meanwhile, which a change by path would follow.
	perm := goMode(e.Mode)
	times := remote.Attr{Atime: time.Unix(0, e.Atime), Mtime: time.Unix(0, e.Mtime)}
	chmod := make(chan error, 1)
	go func() { chmod <- rf.Chmod(ctx, perm) }()
	werr := w.send(ctx, rf, wf.data, e.Size)
	err = cmp.Or(<-chmod, werr)
	var aerr error
	if err == nil {
		aerr = w.ownerAndTimes(ctx, rf, e, times)
	}
	cerr := rf.Close(ctx)
	if err := cmp.Or(err, cerr); err != nil {
		if isFailure(err) {
			// SSH_FX_FAILURE says nothing; a full disk is the usual
			// cause, asked before the temporary file's bytes are freed.
			// Room for less than the file: others' uploads may
			// have freed theirs meanwhile.
			if st, serr := rc.StatFS(ctx, parentOf(e.Path)); serr == nil {
				if st.BlocksAvail*max(st.FragmentSize, 1) < uint64(e.Size) {
					err = fmt.Errorf("%w (%w)", syscall.ENOSPC, err)
				} else {
					// Room now: others' uploads that failed at once
					// freed theirs. Once more, not for ever.
					err = fmt.Errorf("%w: %w", errRoomNow, err)
				}
			}
		}
		go rc.Remove(context.Background(), tmp)
		<-there
		return err
	}
	if aerr != nil {
		go rc.Remove(context.Background(), tmp)
		<-there
		return aerr
	}
	t := <-there
	if t.err != nil && !errors.Is(t.err, os.ErrNotExist) {
		go rc.Remove(context.Background(), tmp)
		return t.err
	}
	to := e.Path
	conflict := w.conflicts(e, t.a, t.err == nil)
	if conflict {
		to = fmt.Sprintf("%s.sftpmount-conflict-%s", e.Path, time.Now().Format("20060102-150405"))
	}
	if err := rc.Rename(ctx, tmp, to); err != nil {
		go rc.Remove(context.Background(), tmp)
		return err
	}
	w.mu.Lock()
	if wf.writers > 0 {
		// Still open for writing (an fsync, a rename above it): the
		// server has what was written so far, and the file stays in
		// the journal for what comes next, with what was sent as what
		// the server is expected to hold. Beside the name after a
		// conflict: what comes next goes there too, not lost.
		if conflict && w.files[e.Path] == wf {
			delete(w.files, e.Path)
			wf.e.Path = to
			w.files[to] = wf
			w.cfg.Notice(fmt.Sprintf("/%s changed on the server while its upload waited: the server's file is kept, ours (still open for writing) is beside it as /%s", e.Path, to))
			w.conflicted.Add(1)
			f.forget(e.Path)
			f.unsure(e.Path)
		}
		wf.state, wf.err = wbQueued, nil
		wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = true, e.Size, e.Mtime
		wf.dirty = true
		done := wf.done
		wf.done = make(chan struct{})
		w.mu.Unlock()
		w.commit(wf)
		f.settled(to, nil, true)
		f.touched(to)
		w.uploaded.Add(1)
		w.uploadedBytes.Add(e.Size)
		closeOnce(done)
		return nil
	}
	// On the server: out of the journal.
	if w.files[e.Path] == wf {
		delete(w.files, e.Path)
	}
	dirTimes, redo := w.dirTimesDueLocked(parentOf(e.Path))
	w.bytes -= e.Size
	wf.state = wbDone
	data := wf.data
	if wf.handles == 0 {
		wf.data = nil
	}
	w.mu.Unlock()
	if wf.data == nil {
		defer data.Close()
	}
	w.cfg.Journal.Remove(e.ID)
	if redo {
		a := remote.Attr{Atime: time.Unix(0, dirTimes.Atime), Mtime: time.Unix(0, dirTimes.Mtime)}
		if err := f.byPath(dirTimes.Path).Chtimes(ctx, a); err == nil || !isLost(err) {
			w.cfg.Journal.Remove(dirTimes.ID)
			f.attrs.Delete(dirTimes.Path)
		} else {
			w.mu.Lock()
			if _, newer := w.dirTimes[dirTimes.Path]; !newer {
				w.dirTimes[dirTimes.Path] = dirTimes // at sync or unmount, then
			}
			w.mu.Unlock()
		}
	}
	w.uploaded.Add(1)
	w.uploadedBytes.Add(e.Size)
	a := wf.shown
	a.Atime, a.Mtime = time.Unix(times.Atime.Unix(), 0), time.Unix(times.Mtime.Unix(), 0)
	f.settled(to, nil, true)
	f.touched(to)
	if conflict {
		w.conflicted.Add(1)
		f.forget(e.Path)
		f.unsure(e.Path)
		if n := f.nodeAt(e.Path); n != nil {
			n.dropPages()
			go n.NotifyContent(-1, 0)
		}
		if d := f.nodeAt(parentOf(e.Path)); d != nil {
			go d.NotifyEntry(path.Base(e.Path))
		}
		w.cfg.Notice(fmt.Sprintf("/%s changed on the server while its upload waited: the server's file is kept, ours is beside it as /%s", e.Path, to))
	} else {
		f.attrs.Put(to, a)
		if n := f.nodeAt(to); n != nil {
			n.mu.Lock()
			n.pages = &a
			n.mu.Unlock()
		}
	}
	closeOnce(wf.done)
	return nil
}

// conflicts reports whether what is at e.Path on the server (a, when
// exists) is neither what was there when e began nor e itself (an upload
// whose rename landed before a crash).
func (w *writeback) conflicts(e cache.JournalEntry, a remote.Attr, exists bool) bool {
	if !exists {
		return false // nothing there, or removed meanwhile: ours goes at the name, nothing is lost
	}
	if a.Mode.IsRegular() && int64(a.Size) == e.Size && a.Mtime.Unix() == time.Unix(0, e.Mtime).Unix() {
		return false // ours already
	}
	if e.BaseExists && a.Mode.IsRegular() && int64(a.Size) == e.BaseSize && a.Mtime.Unix() == time.Unix(0, e.BaseMtime).Unix() {
		return false
	}
	return true
}

// send writes size bytes of data to rf, several writes in flight.
func (w *writeback) send(ctx context.Context, rf *remote.File, data *os.File, size int64) error {
	const chunk = 256 << 10
	const inFlight = 8
	sem := make(chan struct{}, inFlight)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		buf := make([]byte, n)
		if _, err := data.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			wg.Wait()
			return err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(off int64) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := rf.WriteAt(ctx, buf, off); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(off)
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
	}
	wg.Wait()
	return first
}

// WritebackFailure is a file not uploaded.
type WritebackFailure struct {
	Path string
	Err  string
}

// WritebackStatus is what `sftpmount status` shows of the queue.
type WritebackStatus struct {
	On                     bool
	Journal                string
	Files                  int
	Bytes                  int64
	Uploading              int
	Oldest                 time.Time
	Failed                 []WritebackFailure
	Uploaded, UploadedByte int64
	Conflicts              int64
}

// Status reports the write-back queue; zero when there is no journal.
func (f *FS) Status() WritebackStatus {
	w := f.wb
	if w == nil {
		return WritebackStatus{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := WritebackStatus{On: w.cfg.On, Journal: w.cfg.Journal.Dir(), Files: len(w.files), Bytes: w.bytes, Uploading: w.active,
		Uploaded: w.uploaded.Load(), UploadedByte: w.uploadedBytes.Load(), Conflicts: w.conflicted.Load()}
	for p, wf := range w.files {
		if t := time.Unix(0, wf.e.Made); s.Oldest.IsZero() || t.Before(s.Oldest) {
			s.Oldest = t
		}
		if wf.state == wbFailed {
			s.Failed = append(s.Failed, WritebackFailure{Path: "/" + p, Err: errnoText(wf.err)})
		}
	}
	sort.Slice(s.Failed, func(a, b int) bool { return s.Failed[a].Path < s.Failed[b].Path })
	return s
}

// Sync uploads everything in the journal, failed files again too, and
// returns once each upload has ended or ctx has: the files not uploaded,
// with why.
func (f *FS) Sync(ctx context.Context) []WritebackFailure {
	w := f.wb
	if w == nil {
		return nil
	}
	w.mu.Lock()
	for _, wf := range w.files {
		if wf.state == wbFailed {
			wf.state, wf.err = wbQueued, nil
			wf.done = make(chan struct{})
		}
		if wf.writers == 0 && wf.state == wbQueued {
			wf.forced = true
			w.enqueueLocked(wf)
		}
	}
	w.mu.Unlock()
	for {
		w.mu.Lock()
		var c chan struct{}
		var out []WritebackFailure
		for p, wf := range w.files {
			switch {
			case wf.state == wbFailed:
				out = append(out, WritebackFailure{Path: "/" + p, Err: errnoText(wf.err)})
			case wf.writers > 0:
				// Open for writing: its close has not been acknowledged.
			case c == nil:
				c = wf.done
			}
		}
		busy := w.active > 0 // ending: a directory's times may be on their way
		w.mu.Unlock()
		if c == nil && busy {
			c = make(chan struct{})
			time.AfterFunc(20*time.Millisecond, func() { close(c) })
		}
		if c == nil {
			w.dirTimesLeft(ctx)
			sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
			return out
		}
		select {
		case <-c:
		case <-ctx.Done():
			w.mu.Lock()
			for p, wf := range w.files {
				if wf.state != wbFailed {
					why := "not uploaded in time"
					if wf.err != nil {
						why = errnoText(wf.err)
					}
					out = append(out, WritebackFailure{Path: "/" + p, Err: why})
				}
			}
			w.mu.Unlock()
			sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
			return out
		}
	}
}
