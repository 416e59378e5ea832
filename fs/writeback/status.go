package writeback

import (
	"context"
	"sort"
	"time"
)

// Failure is a file not uploaded.
type Failure struct {
	Path string
	Err  string
}

// Status is what `sftpmount status` shows of the queue.
type Status struct {
	On                     bool
	Journal                string
	Files                  int
	Bytes                  int64
	Uploading              int
	Oldest                 time.Time
	Failed                 []Failure
	Uploaded, UploadedByte int64
	Conflicts              int64
}

// Status reports the queue; zero when there is none.
func (w *Queue) Status() Status {
	if w == nil {
		return Status{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Status{On: w.cfg.On, Journal: w.cfg.Journal.Dir(), Files: len(w.files), Bytes: w.bytes, Uploading: w.active,
		Uploaded: w.uploaded.Load(), UploadedByte: w.uploadedBytes.Load(), Conflicts: w.conflicted.Load()}
	for p, wf := range w.files {
		if t := time.Unix(0, wf.e.Made); s.Oldest.IsZero() || t.Before(s.Oldest) {
			s.Oldest = t
		}
		if wf.state == failed {
			s.Failed = append(s.Failed, Failure{Path: "/" + p, Err: w.errnoText(wf.err)})
		}
	}
	sortFailures(s.Failed)
	return s
}

func sortFailures(fs []Failure) {
	sort.Slice(fs, func(a, b int) bool { return fs[a].Path < fs[b].Path })
}

// Sync uploads everything in the journal, failed files again too, and
// returns once each upload has ended or ctx has: the files not uploaded,
// with why.
func (w *Queue) Sync(ctx context.Context) []Failure {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	for _, wf := range w.files {
		if wf.state == failed {
			wf.state, wf.err = queued, nil
			wf.done = make(chan struct{})
		}
		if wf.writers == 0 && wf.state == queued {
			wf.forced = true
			w.enqueueLocked(wf)
		}
	}
	w.mu.Unlock()
	for {
		w.mu.Lock()
		var c chan struct{}
		var out []Failure
		for p, wf := range w.files {
			switch {
			case wf.state == failed:
				out = append(out, Failure{Path: "/" + p, Err: w.errnoText(wf.err)})
			case wf.writers > 0:
				// Open for writing: its close has not been acknowledged.
			case c == nil:
				c = wf.done
			}
		}
		busy := w.active > 0 // ending: a directory's times may be on their way
		if w.closed {
			// Closed: what is left stays in the journal.
			defer w.mu.Unlock()
			return w.leftLocked(out)
		}
		w.mu.Unlock()
		if c == nil && !busy {
			w.dirTimesLeft(ctx)
			sortFailures(out)
			return out
		}
		var tick *time.Timer
		var ticked <-chan time.Time
		if c == nil {
			tick = time.NewTimer(20 * time.Millisecond)
			ticked = tick.C
		}
		select {
		case <-c:
		case <-ticked:
		case <-ctx.Done():
			stopTimer(tick)
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.leftLocked(out)
		}
		stopTimer(tick)
	}
}

// leftLocked adds to out, the files that failed, those not uploaded
// yet, with why.
func (w *Queue) leftLocked(out []Failure) []Failure {
	for p, wf := range w.files {
		if wf.state != failed {
			why := "not uploaded in time"
			if wf.err != nil {
				why = w.errnoText(wf.err)
			}
			out = append(out, Failure{Path: "/" + p, Err: why})
		}
	}
	sortFailures(out)
	return out
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
