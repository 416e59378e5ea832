package writeback

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// The uploads: workers take files off the queue, send each to a
// temporary name beside it, rename that over its name (or beside it on a
// conflict), and retry what failed.

func (w *Queue) worker() {
	for {
		wf, e, forced, ok := w.next()
		if !ok {
			return
		}
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
		w.host.Result("upload", e.Path, err)
		w.ended(wf, e, forced, err)
	}
}

// next waits for a file ready to upload and marks it begun; false once
// Close has begun.
func (w *Queue) next() (wf *File, e JournalEntry, forced, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for wf == nil {
		if w.closed {
			return nil, e, false, false
		}
		for i, q := range w.queue {
			ready := q.writers == 0 && !time.Now().Before(q.after)
			if (ready || q.forced) && q.state == queued && w.files[q.e.Path] == q {
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
	forced = wf.forced
	wf.state, wf.forced, wf.after = uploading, false, time.Time{}
	wf.tries++
	w.active++
	return wf, wf.e, forced, true
}

// ended takes the outcome err of wf's upload: done (upload has seen to
// it), again now or later, or failed until the next sync.
func (w *Queue) ended(wf *File, e JournalEntry, forced bool, err error) {
	w.mu.Lock()
	w.active--
	switch {
	case err == nil:
		// Done by upload, outside the lock.
	case w.ctx.Err() != nil:
		// Cut by Close: left in the journal, its record whole, for
		// the next mount.
		wf.state, wf.err = queued, err
	case errors.Is(err, errRoomNow) && wf.tries < roomTries:
		wf.state, wf.err = queued, err
		wf.forced = wf.forced || forced
		w.enqueueLocked(wf)
	case !w.isLost(err):
		wf.state, wf.err = failed, err
		closeOnce(wf.done)
	default:
		// A lost connection: again, once the client has had time to
		// reconnect.
		wf.state, wf.err = queued, err
		wf.forced = wf.forced || forced
		w.afterLocked(backoff(wf.tries), func() { w.enqueueLocked(wf) })
	}
	if w.closed && wf.state == queued {
		closeOnce(wf.done) // not uploaded by this mount: its waiters are let go
	}
	fail := wf.state == failed
	w.cond.Broadcast()
	w.mu.Unlock()
	if fail {
		w.cfg.Notice(fmt.Sprintf("upload of %s failed: %v; kept in the journal %s", "/"+e.Path, w.errnoText(err), w.cfg.Journal.Dir()))
	}
}

// errRoomNow marks an upload that failed (SSH_FX_FAILURE) while the
// server's filesystem has room for the file: tried again at once, up to
// roomTries tries in all.
var errRoomNow = errors.New("failed, though the server has room now")

const roomTries = 3

func (w *Queue) errnoText(err error) string {
	if errno := w.host.Errno(err); errno != 0 && errno != syscall.EIO {
		return errno.Error()
	}
	return err.Error()
}

// isLost tells a lost connection (retried) from the server's answer and
// from errors of our own (the journal's disk), which are not.
func (w *Queue) isLost(err error) bool {
	if w.host.Answered(err) {
		return false
	}
	return errors.Is(err, remote.ErrConnectionLost) || errors.Is(err, remote.ErrTimeout) ||
		errors.Is(err, remote.ErrAbandoned) || errors.Is(err, remote.ErrStale)
}

func backoff(tries int) time.Duration {
	d := time.Duration(tries) * 500 * time.Millisecond
	return min(d, 10*time.Second)
}

// tempName is where e is uploaded to: the same for every try of this
// file, by this mount or the next, so that what a try cut off left there
// is removed and made anew, not left.
func tempName(e JournalEntry) string {
	return path.Join(parentOf(e.Path), TempPrefix+e.ID[max(0, len(e.ID)-16):])
}

// upload sends wf (as e says it is) to a temporary name beside it, and
// renames that over e.Path, or beside it on a conflict.
func (w *Queue) upload(wf *File, e JournalEntry) error {
	to, conflict, err := w.place(w.ctx, wf, e)
	if err != nil {
		return err
	}
	w.landed(wf, e, to, conflict)
	return nil
}

type found struct {
	a   remote.Attr
	err error
}

// place writes e's bytes, mode, owner and times to its temporary name,
// and renames that to e.Path, or beside it (conflict) when the server's
// file there changed. On any failure the one cleanup below removes the
// temporary name, if made, in the background.
func (w *Queue) place(ctx context.Context, wf *File, e JournalEntry) (to string, conflict bool, err error) {
	rc := w.remote
	tmp := tempName(e)
	// What is at the name now, asked alongside the upload: what the
	// conflict check compares with e's base.
	there := make(chan found, 1)
	go func() {
		a, err := rc.Lstat(ctx, e.Path)
		there <- found{a, err}
	}()
	asked, made := false, false
	defer func() {
		if err == nil {
			return
		}
		if made {
			w.running.Go(func() { rc.Remove(context.Background(), tmp) })
		}
		if !asked {
			<-there
		}
	}()
	// Made exclusively: an open with O_TRUNC would follow a symlink
	// another server user put at the name (it shows in a listing once a
	// try has left it) and truncate and write its target. Whatever is
	// there is removed first (a removal never follows a link).
	rf, err := rc.Create(ctx, tmp)
	if err != nil && rc.Remove(ctx, tmp) == nil {
		rf, err = rc.Create(ctx, tmp)
	}
	if err != nil {
		return "", false, err
	}
	made = true
	if err := w.fill(ctx, rf, wf, e); err != nil {
		return "", false, err
	}
	t := <-there
	asked = true
	if t.err != nil && !errors.Is(t.err, os.ErrNotExist) {
		return "", false, t.err
	}
	to = e.Path
	conflict = conflicts(e, t.a, t.err == nil)
	if conflict {
		to = fmt.Sprintf("%s.sftpmount-conflict-%s", e.Path, time.Now().Format("20060102-150405"))
	}
	if err := rc.Rename(ctx, tmp, to); err != nil {
		return "", false, err
	}
	return to, conflict, nil
}

// fill writes e's bytes to rf, and its mode, owner and times through
// rf's handle (see RemoteFile), and closes it. SSH_FX_FAILURE is told
// apart: a full disk (ENOSPC), or room now (errRoomNow).
func (w *Queue) fill(ctx context.Context, rf RemoteFile, wf *File, e JournalEntry) error {
	chmod := make(chan error, 1)
	go func() { chmod <- rf.Chmod(ctx, w.host.Mode(e.Mode)) }()
	werr := send(ctx, rf, wf.data, e.Size)
	err := cmp.Or(<-chmod, werr)
	var aerr error
	if err == nil {
		aerr = w.ownerAndTimes(ctx, rf, e)
	}
	cerr := rf.Close(ctx)
	if err := cmp.Or(err, cerr); err != nil {
		if w.host.IsFailure(err) {
			// SSH_FX_FAILURE says nothing; a full disk is the usual
			// cause, asked before the temporary file's bytes are freed.
			// Room for less than the file: others' uploads may
			// have freed theirs meanwhile.
			if st, serr := w.remote.StatFS(ctx, parentOf(e.Path)); serr == nil {
				if st.BlocksAvail*max(st.FragmentSize, 1) < uint64(e.Size) {
					err = fmt.Errorf("%w (%w)", syscall.ENOSPC, err)
				} else {
					// Room now: others' uploads that failed at once
					// freed theirs. Once more, not for ever.
					err = fmt.Errorf("%w: %w", errRoomNow, err)
				}
			}
		}
		return err
	}
	return aerr
}

// times are e's atime and mtime, as an upload sets them.
func times(e JournalEntry) remote.Attr {
	return remote.Attr{Atime: time.Unix(0, e.Atime), Mtime: time.Unix(0, e.Mtime)}
}

// ownerAndTimes gives the upload's file rf the owner e records, if any,
// and times, through its handle, once its data is written.
func (w *Queue) ownerAndTimes(ctx context.Context, rf RemoteFile, e JournalEntry) error {
	if e.UID != nil || e.GID != nil {
		uid, gid := w.remote.LoginOwner()
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
	return rf.Chtimes(ctx, times(e))
}

// landed follows wf's upload (as e) renamed to to on the server.
func (w *Queue) landed(wf *File, e JournalEntry, to string, conflict bool) {
	w.mu.Lock()
	if wf.writers > 0 {
		w.landedOpen(wf, e, to, conflict) // lets w.mu go
		return
	}
	// On the server: out of the journal.
	if w.files[e.Path] == wf {
		delete(w.files, e.Path)
	}
	dirTimes, redo := w.dirTimesDueLocked(parentOf(e.Path))
	w.bytes -= e.Size
	wf.state = done
	data := wf.data
	closeData := wf.handles == 0 // read under w.mu: a Release may set wf.data once it is let go
	if closeData {
		wf.data = nil
	}
	w.mu.Unlock()
	if closeData {
		defer data.Close()
	}
	w.cfg.Journal.Remove(e.ID)
	if redo {
		w.setDirTimesAgain(w.ctx, dirTimes)
	}
	w.uploaded.Add(1)
	w.uploadedBytes.Add(e.Size)
	a := wf.shown
	t := times(e)
	a.Atime, a.Mtime = time.Unix(t.Atime.Unix(), 0), time.Unix(t.Mtime.Unix(), 0)
	if conflict {
		w.host.Uploaded(to, nil)
		w.conflicted.Add(1)
		w.host.Kept(e.Path, true)
		w.cfg.Notice(fmt.Sprintf("/%s changed on the server while its upload waited: the server's file is kept, ours is beside it as /%s", e.Path, to))
	} else {
		w.host.Uploaded(to, &a)
	}
	closeOnce(wf.done)
}

// landedOpen is landed for a file still open for writing (an fsync, a
// rename above it): the server has what was written so far, and the
// file stays in the journal for what comes next, with what was sent as
// what the server is expected to hold. Beside the name after a conflict:
// what comes next goes there too, not lost. Called with w.mu held; lets
// it go.
func (w *Queue) landedOpen(wf *File, e JournalEntry, to string, conflict bool) {
	kept := conflict && w.files[e.Path] == wf
	if kept {
		delete(w.files, e.Path)
		wf.e.Path = to
		w.files[to] = wf
	}
	wf.state, wf.err = queued, nil
	wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = true, e.Size, e.Mtime
	wf.dirty = true
	before := wf.done
	wf.done = make(chan struct{})
	w.mu.Unlock()
	if kept {
		w.cfg.Notice(fmt.Sprintf("/%s changed on the server while its upload waited: the server's file is kept, ours (still open for writing) is beside it as /%s", e.Path, to))
		w.conflicted.Add(1)
		w.host.Kept(e.Path, false)
	}
	w.Commit(wf)
	w.host.Uploaded(to, nil)
	w.uploaded.Add(1)
	w.uploadedBytes.Add(e.Size)
	closeOnce(before)
}

// conflicts reports whether what is at e.Path on the server (a, when
// exists) is neither what was there when e began nor e itself (an upload
// whose rename landed before a crash).
func conflicts(e JournalEntry, a remote.Attr, exists bool) bool {
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
func send(ctx context.Context, rf RemoteFile, data *os.File, size int64) error {
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
