package writeback

import (
	"context"
	"fmt"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// TempPrefix begins the temporary names of uploads; listings pass them over.
const TempPrefix = ".sftpmount-wb-"

// workers is how many uploads run at once.
const workers = 32

type state int

const (
	queued state = iota
	uploading
	failed // the server refused; retried at sync, unmount, next mount
	done   // uploaded, dropped or replaced
)

// File is one file in the journal.
type File struct {
	e       JournalEntry // guarded by Queue.mu
	data    *os.File
	handles int         // handles open on data; closed once none is and the file is done
	shown   remote.Attr // what the mount shows of it (uid, gid predicted)
	writers int         // writable handles open: no upload until 0, unless forced
	forced  bool        // upload now, writers or not (fsync, a rename above it)
	after   time.Time   // not uploaded before (Config.Delay after its last close), unless forced
	dirty   bool        // changed since the journal's record was made
	synced  bool        // the record and bytes are on disk (false after a Record)
	saveMu  sync.Mutex  // one save at a time, so the journal's last record is the newest (save)
	state   state
	err     error
	tries   int
	done    chan struct{} // closed when the state becomes done or failed
}

// Data is the file's bytes in the journal, open while a handle is.
func (wf *File) Data() *os.File { return wf.data }

// Queue is the write-back queue of one mount: the files in the journal,
// the workers that upload them, and the times of the directories they
// are in. Its lock and what it guards: see the package comment.
type Queue struct {
	host   Host
	remote Remote
	cfg    Config

	mu    sync.Mutex // guards what follows, to active, and every File's e, state and counts: see the package comment
	cond  *sync.Cond
	files map[string]*File // by path; done ones are not here
	queue []*File
	bytes int64
	// Times set on a directory while files of ours in it wait: set
	// again once the last of them is uploaded, whose rename into the
	// directory changes its mtime (tar sets a directory's times after
	// its files). In the journal too, as Dir entries.
	dirTimes map[string]JournalEntry
	active   int                      // uploads running
	closed   bool                     // Close has begun: no upload starts, no timer is set
	timers   map[*time.Timer]struct{} // set by afterLocked, stopped by Close
	ctx      context.Context          // the uploads'; cancelled when Close gives up waiting
	cancel   context.CancelFunc       //
	stop     chan struct{}            // closed by Close: the recorder's last pass
	running  sync.WaitGroup           // workers, recorder, timers and removals of temporary names
	started  bool                     // Start has run

	uploaded, uploadedBytes, conflicted atomic.Int64
}

// New makes the queue of a mount: host is the mount, r the server.
// Load takes in what the journal holds; Start starts the uploads; Close
// stops them.
func New(host Host, r Remote, cfg Config) *Queue {
	w := &Queue{host: host, remote: r, cfg: cfg, files: map[string]*File{}, timers: map[*time.Timer]struct{}{}, stop: make(chan struct{})}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.cond = sync.NewCond(&w.mu)
	if cfg.Notice == nil {
		w.cfg.Notice = func(string) {}
	}
	return w
}

// Load takes the journal's files, left by an earlier mount, into the
// queue: shown by the mount at once, uploaded in the background.
func (w *Queue) Load() (int, error) {
	entries, err := w.cfg.Journal.Entries()
	if err != nil {
		return 0, err
	}
	// The files' bytes are opened before w.mu is taken: no disk I/O
	// under it (the package comment's Locking).
	data := make([]*os.File, len(entries))
	for i, e := range entries {
		if e.Dir {
			continue
		}
		d, err := w.cfg.Journal.OpenData(e.ID) // no symlink, ours, one name
		if err != nil {
			for _, d := range data[:i] {
				if d != nil {
					d.Close()
				}
			}
			return 0, fmt.Errorf("journal %s: %v", w.cfg.Journal.Dir(), err)
		}
		// Bytes past the record's size were never acknowledged.
		d.Truncate(e.Size)
		data[i] = d
	}
	var gone []string
	defer func() { w.unrecord(gone...) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, e := range entries {
		if e.Dir {
			if w.dirTimes == nil {
				w.dirTimes = map[string]JournalEntry{}
			}
			if had, ok := w.dirTimes[e.Path]; ok {
				// A crash between a record and the removal of the one
				// before it: the newer counts.
				if had.Made > e.Made {
					had, e = e, had
				}
				gone = append(gone, had.ID)
			}
			w.dirTimes[e.Path] = e
			continue
		}
		wf := &File{e: e, data: data[i], synced: true, done: make(chan struct{})}
		wf.shown = w.attrOf(wf)
		if old := w.files[e.Path]; old != nil {
			// Two records for one name (a crash between a rename in the
			// journal and its record): the newer one wins.
			gone = append(gone, w.dropLocked(old))
		}
		w.files[e.Path] = wf
		w.queue = append(w.queue, wf)
		w.bytes += e.Size
	}
	w.cond.Broadcast()
	return len(entries), nil
}

// Start starts the uploads and the recorder; Close stops them.
func (w *Queue) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.closed {
		return
	}
	w.started = true
	for i := 0; i < workers; i++ {
		w.running.Go(w.worker)
	}
	w.running.Go(w.recorder)
}

// Close stops the queue: no upload begins after it; those running end
// as they would until ctx is done, and are then cut, their files left in
// the journal, records whole, for the next mount. The records changed
// since their last write are written. Close returns once every goroutine
// the queue started has ended. It does not upload what waits (Sync does:
// unmount calls it first) and does not close the journal.
func (w *Queue) Close(ctx context.Context) {
	if w == nil {
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	for t := range w.timers {
		if t.Stop() {
			w.running.Done() // its function will not run
		}
	}
	clear(w.timers)
	close(w.stop)
	w.cond.Broadcast()
	w.mu.Unlock()
	ended := make(chan struct{})
	go func() { w.running.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-ctx.Done():
		w.cancel()
		<-ended
	}
	w.cancel()
}

// afterLocked runs fn, with w.mu held, after d; not once Close has begun.
func (w *Queue) afterLocked(d time.Duration, fn func()) {
	if w.closed {
		return
	}
	w.running.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer w.running.Done()
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.timers, t)
		fn()
	})
	w.timers[t] = struct{}{}
}

// attrOf is what the mount shows of wf: its journal record, and the
// owner the server gives new files.
func (w *Queue) attrOf(wf *File) remote.Attr {
	a := wf.shown
	if a.Mode == 0 {
		a.UID, a.GID = w.remote.LoginOwner()
		if uid, gid, ok := w.host.NewFileOwner(parentOf(wf.e.Path)); ok {
			a.UID, a.GID = uid, gid
		}
	}
	if wf.e.UID != nil {
		a.UID = *wf.e.UID
	}
	if wf.e.GID != nil {
		a.GID = *wf.e.GID
	}
	a.Mode = w.host.Mode(wf.e.Mode)
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

// Get is the journal's file at rel, if one waits there.
func (w *Queue) Get(rel string) *File {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.files[rel]
}

// PathOf is where wf is now (a rename in the journal moves it).
func (w *Queue) PathOf(wf *File) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return wf.e.Path
}

// Attr is what the mount shows at rel when a file waits there.
func (w *Queue) Attr(rel string) (remote.Attr, bool) {
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

// In is the names of the files waiting in dir, with what they show.
func (w *Queue) In(dir string) map[string]remote.Attr {
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

// Any reports whether a file match accepts is in the journal.
func (w *Queue) Any(match func(rel string) bool) bool {
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

// Room reports whether a new file may go to the journal: write-back on,
// and the journal under its limit.
func (w *Queue) Room() bool {
	if w == nil || !w.cfg.On {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cfg.Limit <= 0 || w.bytes < w.cfg.Limit
}

// Create begins a new file at rel in the journal, with permission bits
// perm (07777).
func (w *Queue) Create(rel string, perm uint32) (*File, error) {
	id, d, err := w.cfg.Journal.NewData()
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixNano()
	wf := &File{
		e:     JournalEntry{ID: id, Path: rel, Mode: perm, Atime: now, Mtime: now, Made: now},
		data:  d,
		dirty: true,
		done:  make(chan struct{}),
	}
	var gone string
	defer func() { w.unrecord(gone) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	wf.shown = w.attrOf(wf)
	if old := w.files[rel]; old != nil {
		gone = w.dropLocked(old) // the kernel had it looked up as absent: gone meanwhile
	}
	w.files[rel] = wf
	return wf, nil
}

// Change applies fn to wf's record, if wf still waits and has not begun
// uploading; the record is then written again (not synced: close and
// fsync do that). false: wf is uploading or gone, and the caller goes to
// the server once Wait has returned.
func (w *Queue) Change(wf *File, fn func(e *JournalEntry) error) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.state != queued && wf.state != failed || w.files[wf.e.Path] != wf {
		return false, nil
	}
	if err := fn(&wf.e); err != nil {
		return true, err
	}
	if wf.state == failed {
		wf.state, wf.err = queued, nil
		wf.done = make(chan struct{})
		w.queue = append(w.queue, wf)
	}
	wf.dirty = true
	wf.shown = w.attrOf(wf)
	w.cond.Broadcast()
	return true, nil
}

// Open and Release count wf's handles, and its writable ones: an upload
// waits for none of those. Open fails once wf is done.
func (w *Queue) Open(wf *File, writable bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.data == nil || writable && (wf.state == uploading || wf.state == done) {
		return false
	}
	wf.handles++
	if writable {
		wf.writers++
	}
	return true
}

func (w *Queue) Release(wf *File, writable bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wf.handles--
	w.closeDataLocked(wf)
	if writable {
		wf.writers--
	}
	if wf.writers == 0 && wf.state == queued && w.files[wf.e.Path] == wf {
		w.enqueueLocked(wf)
	}
}

func (w *Queue) enqueueLocked(wf *File) {
	// Always woken: a file queued before may have just become ready.
	defer w.cond.Broadcast()
	if d := time.Until(wf.after); d > 0 && !wf.forced {
		w.afterLocked(d, w.cond.Broadcast)
	}
	for _, q := range w.queue {
		if q == wf {
			return
		}
	}
	w.queue = append(w.queue, wf)
}

// Wrote notes that wf's bytes changed (a write or truncate of its data).
func (w *Queue) Wrote(wf *File) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wf.dirty = true
	wf.e.Mtime = time.Now().UnixNano()
	if fi, err := wf.data.Stat(); err == nil {
		wf.shown.Size = uint64(fi.Size())
	}
	wf.shown.Mtime = time.Unix(0, wf.e.Mtime).Truncate(time.Second)
}

// dropLocked takes wf out of the queue, and gives the id of its record,
// for the caller to remove from the journal once w.mu is let go
// (unrecord). Its data stays readable through open handles.
func (w *Queue) dropLocked(wf *File) (id string) {
	delete(w.files, wf.e.Path)
	w.bytes -= wf.e.Size
	wf.state = done
	w.closeDataLocked(wf)
	closeOnce(wf.done)
	return wf.e.ID
}

// closeDataLocked closes wf's data once it is done and no handle reads it.
func (w *Queue) closeDataLocked(wf *File) {
	if wf.state == done && wf.handles == 0 && wf.data != nil {
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

// Wait returns once the uploads of the files match accepts that are in
// the journal now have ended: it starts those not begun, open for
// writing or not (a file still open stays in the journal for what comes
// next). Files whose upload failed are passed over.
func (w *Queue) Wait(ctx context.Context, match func(rel string) bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	var cs []chan struct{}
	for p, wf := range w.files {
		if match(p) && wf.state != failed {
			if wf.state == queued {
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

// Settle waits for the upload of wf and returns its outcome.
func (w *Queue) Settle(ctx context.Context, wf *File) error {
	w.mu.Lock()
	if wf.state == failed {
		wf.state, wf.err = queued, nil
		wf.done = make(chan struct{})
	}
	if wf.state == queued {
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

// parentOf is the directory rel is in ("" for the root).
func parentOf(rel string) string {
	d := path.Dir(rel)
	if d == "." || d == "/" {
		return ""
	}
	return d
}
