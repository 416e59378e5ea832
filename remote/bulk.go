package remote

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// One SSH channel carries at most its window, 2 MiB in x/crypto, per
// round trip: about 40 MB/s at 50 ms, whatever the link could do. So a
// large file's data is spread over the session's bulk SFTP sessions, each
// its own channel with its own window, in stripes by offset. The first
// bulkFrom bytes stay on the file's own handle: a small file needs no
// second open, and a large transfer does not queue ahead of other calls
// on the first session for longer than that.
const (
	bulkFrom   = 2 << 20
	bulkStripe = 512 << 10 // one read-ahead chunk, so a chunk is one session's
)

// bulkHandle is the file opened on one bulk session; ready is closed once
// the open is over, h set if it worked.
type bulkHandle struct {
	ready chan struct{}
	h     *sftp.File
}

// handleFor returns the handle to use for data at off: a bulk session's
// when the session has some and off is past bulkFrom, else primary (the
// file's own handle on s). A bulk handle that cannot be had, or might not
// be the same file, is never an error: primary serves instead.
func (f *File) handleFor(ctx context.Context, s *session, primary *sftp.File, off int64) *sftp.File {
	if off < bulkFrom || len(s.bulk) == 0 || f.reopenFlags&os.O_APPEND != 0 {
		return primary
	}
	i := int((off / bulkStripe) % int64(len(s.bulk)))
	sc := s.bulk[i].Load()
	if sc == nil { // not started (yet)
		return primary
	}
	f.mu.Lock()
	if f.s != s || f.closed || f.c.nameCount(f.abs) != f.names {
		f.mu.Unlock()
		return primary
	}
	if f.bulk == nil {
		f.bulk = make([]*bulkHandle, len(s.bulk))
	}
	b := f.bulk[i]
	if b == nil {
		b = &bulkHandle{ready: make(chan struct{})}
		f.bulk[i] = b
		expect, expectChanges := f.expect, f.expectChanges
		f.mu.Unlock()
		b.h = f.openBulk(ctx, s, sc, i, primary, expect, expectChanges)
		close(b.ready)
	} else {
		f.mu.Unlock()
		select {
		case <-b.ready:
		case <-ctx.Done():
			return primary
		}
	}
	if b.h == nil {
		return primary
	}
	return b.h
}

// OpenKnown opens rel as OpenFile does, for a caller that believes it
// has attributes a (as Expect). A file large enough for the bulk sessions
// is opened on them in the same round trip as on its own session, not one
// later. Opened side by side, the handles could get two different files
// if the file is replaced at that moment, so the file's own handle is
// checked against a too (its fstat goes with theirs), and no bulk handle
// carries data before both checks hold.
func (c *Client) OpenKnown(ctx context.Context, rel string, flags int, a Attr) (*File, error) {
	f := c.newFile(rel, flags)
	c.mu.Lock()
	s := c.cur
	c.mu.Unlock()
	side := a.Size > bulkFrom && flags == f.reopenFlags && flags&os.O_APPEND == 0 &&
		s != nil && !s.isDead() && len(s.bulk) > 0
	if !side {
		if err := f.open(ctx, flags); err != nil {
			return nil, err
		}
		f.Expect(a)
		return f, nil
	}
	f.s, f.expect, f.expectChanges = s, &a, c.changeCount(f.abs)
	checked := make(chan struct{})
	f.firstChecked = checked
	go f.openAllBulk(s, nil)
	err := f.open(ctx, flags)
	if err != nil {
		f.firstErr = err
		close(checked)
		go f.closeBulk(context.Background())
		return nil, err
	}
	go func() {
		ctx, cancel := c.callContext(context.Background())
		defer cancel()
		first, h := f.current()
		if first != s { // reopened on a new connection: the bulk handles went with s
			f.firstErr = &OpError{Op: "open", Path: f.abs, Err: ErrConnectionLost}
		} else if f.firstErr = f.isFile(ctx, s, h, a); f.firstErr != nil {
			c.cfg.debugf("%s is not the file listed: %v", f.abs, f.firstErr)
		}
		close(checked)
	}()
	return f, nil
}

// openAllBulk opens the file on every bulk session of s ahead of need.
func (f *File) openAllBulk(s *session, primary *sftp.File) {
	ctx, cancel := f.c.callContext(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range s.bulk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.handleFor(ctx, s, primary, bulkFrom+int64(i)*bulkStripe)
		}()
	}
	wg.Wait()
}

// openBulk opens the file on sc, s's bulk session i, and checks it
// is the file primary has open: SFTP has no inode numbers, so by size and
// mtime, against what was known at open or, failing that, against an
// fstat of primary; once this mount has changed the file only by its
// name not having been moved or removed through this mount.
func (f *File) openBulk(ctx context.Context, s *session, sc *sftp.Client, i int, primary *sftp.File, expect *Attr, expectChanges uint64) *sftp.File {
	asked := time.Now()
	var h *sftp.File
	err := runOn(ctx, s, "open", f.abs, func(*sftp.Client) error {
		var err error
		h, err = sc.OpenFile(f.abs, f.reopenFlags)
		return err
	})
	changed := f.c.changeCount(f.abs) != expectChanges
	switch {
	case err != nil:
	case expect != nil && !changed:
		err = f.sameFile(ctx, s, h, *expect) // closes h if not
	case expect == nil && !changed:
		var want Attr
		if err = runOn(ctx, s, "fstat", f.abs, func(*sftp.Client) error {
			fi, err := primary.Stat()
			if err == nil {
				want = attrOf(fi)
			}
			return err
		}); err == nil {
			err = f.sameFile(ctx, s, h, want)
		}
	}
	if err == nil && f.firstChecked != nil {
		select {
		case <-f.firstChecked:
			err = f.firstErr
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			go h.Close()
		}
	}
	if err != nil { // sameFile closed h
		f.c.cfg.debugf("%s: data stays on one session: %v", f.abs, err)
		return nil
	}
	f.c.cfg.debugf("%s: open on sftp session %d for its data, asked %v ago", f.abs, i+2, time.Since(asked).Round(time.Microsecond))
	return h
}

// closeBulk closes the bulk handles of the file, all at once, and
// returns the first error (a server may report a write error only at
// close). A handle on a session since lost went with it.
func (f *File) closeBulk(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	s, bulk := f.s, f.bulk
	f.bulk = nil
	f.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(bulk))
	for i, b := range bulk {
		if b == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-b.ready
			if b.h != nil {
				errs[i] = runOn(ctx, s, "close", f.abs, func(*sftp.Client) error { return b.h.Close() })
			}
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if lostConnection(err) {
		return nil
	}
	return err
}
