package writeback

import (
	"strings"

	"github.com/sftpmount/sftpmount/remote"
)

// What an unlink or a rename through the mount does to the queue: done
// in the journal alone for a file whose upload has not begun; else the
// caller waits for the upload, changes the server, and tells the queue
// after (Renamed, Removed).

// Drop forgets wf, not uploaded (an unlink before its upload began);
// onServer says the server still has what wf was to replace. false: its
// upload has begun; the caller waits and goes to the server.
func (w *Queue) Drop(wf *File) (dropped, onServer bool) {
	var gone string
	defer func() { w.unrecord(gone) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.state == uploading || w.files[wf.e.Path] != wf {
		return false, false
	}
	gone = w.dropLocked(wf)
	return true, wf.e.BaseExists
}

// Move renames wf to rel in the journal alone, when its upload has not
// begun and it was made here (nothing at its old name on the server).
// A file waiting at rel is replaced, as rename(2) replaces it.
func (w *Queue) Move(wf *File, to string, base *remote.Attr) bool {
	ok, gone := w.moveLocked(wf, to, base)
	if !ok {
		return false
	}
	w.unrecord(gone)
	// Recorded at once, as durable as a rename on the local disk.
	w.save(wf, false)
	return true
}

func (w *Queue) moveLocked(wf *File, to string, base *remote.Attr) (ok bool, gone string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf.state == uploading || wf.e.BaseExists || w.files[wf.e.Path] != wf {
		return false, ""
	}
	wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = false, 0, 0
	if old := w.files[to]; old != nil {
		if old.state == uploading {
			return false, ""
		}
		// What the server has at to is what old found there.
		wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = old.e.BaseExists, old.e.BaseSize, old.e.BaseMtime
		gone = w.dropLocked(old)
	} else if base != nil {
		wf.e.BaseExists, wf.e.BaseSize, wf.e.BaseMtime = true, int64(base.Size), base.Mtime.UnixNano()
	}
	delete(w.files, wf.e.Path)
	wf.e.Path = to
	wf.dirty = true
	w.files[to] = wf
	return true, gone
}

// Renamed follows a rename made on the server (after Wait) with the
// files still in the journal under from: those open for writing.
func (w *Queue) Renamed(from, to string) {
	if w == nil {
		return
	}
	var gone string
	w.mu.Lock()
	var moved []*File
	for p, wf := range w.files {
		if p == from || strings.HasPrefix(p, from+"/") {
			moved = append(moved, wf)
		}
	}
	if old := w.files[to]; old != nil && to != from {
		gone = w.dropLocked(old)
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
	w.unrecord(gone)
	for _, wf := range moved {
		w.Commit(wf)
	}
}

// Removed drops what is left in the journal at rel once it is removed
// on the server: a file still open for writing, whose writes now go to
// an unlinked file, as on a local disk.
func (w *Queue) Removed(rel string) {
	if w == nil {
		return
	}
	var gone string
	defer func() { w.unrecord(gone) }()
	w.mu.Lock()
	defer w.mu.Unlock()
	if wf := w.files[rel]; wf != nil && wf.state != uploading {
		gone = w.dropLocked(wf)
	}
}
