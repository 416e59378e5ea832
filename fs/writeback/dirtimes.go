package writeback

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// A directory's times, set while files of ours in it wait: an upload's
// rename into the directory changes its mtime, so they are set again
// once the last of them is uploaded (tar sets a directory's times after
// its files). They are in the journal too, as Dir entries, for the next
// mount.

// SetDirTimes notes times just set on directory dir, to be set again
// once the files of ours waiting in it are uploaded.
func (w *Queue) SetDirTimes(dir string, a remote.Attr) {
	if w == nil {
		return
	}
	w.mu.Lock()
	old, had := w.dirTimes[dir]
	for p := range w.files {
		if parentOf(p) == dir {
			if w.dirTimes == nil {
				w.dirTimes = map[string]JournalEntry{}
			}
			// A new id each time (the journal writes no record of an
			// id after its Remove), the record before it removed once
			// this one is down.
			now := time.Now().UnixNano()
			sum := sha256.Sum256([]byte(dir))
			e := JournalEntry{ID: fmt.Sprintf("dir-%x-%x", sum[:8], now), Path: dir, Dir: true,
				Atime: a.Atime.UnixNano(), Mtime: a.Mtime.UnixNano(), Made: now}
			w.dirTimes[dir] = e
			w.mu.Unlock()
			// Outside w.mu: a Commit that comes after the Remove of
			// its id (a later SetDirTimes, or the upload that set them
			// again) writes nothing.
			w.cfg.Journal.Commit(e, nil)
			if had {
				w.unrecord(old.ID)
			}
			return
		}
	}
	if had {
		delete(w.dirTimes, dir)
	}
	w.mu.Unlock()
	if had {
		w.unrecord(old.ID)
	}
}

// DirShown is a, the attributes of rel, with the times set on it if it
// is a directory whose uploads into it move its mtime meanwhile.
func (w *Queue) DirShown(rel string, a remote.Attr) remote.Attr {
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

// dirTimesDueLocked takes the times to set again on dir, once no file of
// ours waits in it.
func (w *Queue) dirTimesDueLocked(dir string) (JournalEntry, bool) {
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

// setDirTimesAgain sets e's times on its directory, and drops its
// record; after a lost connection they are kept for sync, unmount or the
// next mount.
func (w *Queue) setDirTimesAgain(ctx context.Context, e JournalEntry) {
	if err := w.remote.Chtimes(ctx, e.Path, times(e)); err == nil || !w.isLost(err) {
		w.unrecord(e.ID)
		w.host.DirTimesSet(e.Path)
		return
	}
	w.mu.Lock()
	if _, newer := w.dirTimes[e.Path]; !newer {
		w.dirTimes[e.Path] = e
	}
	w.mu.Unlock()
}

// dirTimesLeft sets the directory times whose setting again an upload
// could not do (a lost connection), for directories no file waits in.
func (w *Queue) dirTimesLeft(ctx context.Context) {
	w.mu.Lock()
	var due []JournalEntry
	for dir := range w.dirTimes {
		if e, ok := w.dirTimesDueLocked(dir); ok {
			due = append(due, e)
		}
	}
	w.mu.Unlock()
	for _, e := range due {
		w.setDirTimesAgain(ctx, e)
	}
}
