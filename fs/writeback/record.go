package writeback

import (
	"time"
)

// The journal's records of the files in the queue: written outside
// Queue.mu, each after the state it records was taken under it (see the
// package comment's Locking).

// recordEvery is how often the records of files changed after their
// close (tar's utimes, chown and chmod come after it) are written to
// the journal, unsynced: each change writing its own would cost a file
// and a rename, and each sync a disk flush.
const recordEvery = 500 * time.Millisecond

// recorder writes, every recordEvery, the records of closed files
// changed since theirs was written; the filesystem under the journal
// makes them durable at its next commit (5 s on ext4), as it would the
// same chmod on a local disk. An upload writes nothing it has not
// recorded first (see worker). At Close it writes them once more and
// returns.
func (w *Queue) recorder() {
	tick := time.NewTicker(recordEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-w.stop:
			w.recordChanged()
			return
		}
		w.recordChanged()
	}
}

// recordChanged writes the records of the closed files that changed
// since theirs was written.
func (w *Queue) recordChanged() {
	w.mu.Lock()
	var dirty []*File
	for _, wf := range w.files {
		if wf.dirty && wf.writers == 0 && wf.state == queued {
			dirty = append(dirty, wf)
		}
	}
	w.mu.Unlock()
	for _, wf := range dirty {
		w.save(wf, false)
	}
}

// Commit makes wf's bytes and record durable in the journal (close,
// fsync).
func (w *Queue) Commit(wf *File) error { return w.save(wf, true) }

// save writes wf's record, and with durable its bytes and record to
// disk (Journal's Commit and Record).
func (w *Queue) save(wf *File, durable bool) error {
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

// unrecord removes the records ids (dropLocked's, dirTimes') from the
// journal, with w.mu let go: each Remove syncs the journal's directory.
// Empty ids are passed over.
func (w *Queue) unrecord(ids ...string) {
	for _, id := range ids {
		if id != "" {
			w.cfg.Journal.Remove(id)
		}
	}
}
