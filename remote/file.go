package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
)

// File is an open remote file. When the connection under it is lost and
// reconnecting is on, it is reopened at its path on the new connection
// (with its open flags less O_CREATE, O_EXCL and O_TRUNC) and the call is
// tried once more. Reads, positioned writes, truncate, stat and fsync are
// safe to repeat: a repeated write lands on the same bytes. Appends are
// not, so an append cut off by a lost connection fails instead.
type File struct {
	c           *Client
	rel, abs    string // the path opened, relative to the root and absolute
	reopenFlags int    // flags to reopen with

	mu sync.Mutex // guards s, f, byPath, expect, reopening and writing
	s  *session
	f  *sftp.File
	// byPath is set once f was opened by path after the File was: an
	// OpenLater file's first handle, or one opened again after a lost
	// connection. Its path may have named another file by then (see
	// setAttrs).
	byPath bool

	// expect is what the file looked like when opened (Expect); a reopen
	// that finds another size or mtime fails with ErrStale. Once this
	// mount has changed the file (changes moved on), the size and mtime
	// are its own doing and only the file's existence is checked.
	expect        *Attr
	expectChanges uint64
	reopening     chan struct{} // closed when the reopen in progress ends

	names  uint64        // the path's renames and removals through this mount, at open
	bulk   []*bulkHandle // the file on s's bulk sessions, opened when first needed
	closed bool          // no more bulk handles: Close has begun

	// firstChecked, when not nil, is closed once the file's own handle
	// has been checked against expect, with firstErr the verdict: the
	// bulk handles of OpenKnown are opened alongside it, not after it.
	firstChecked chan struct{}
	firstErr     error

	rewrites atomic.Uint64 // see Rewrites

	// writing has a channel for each write in flight (WriteAtThen),
	// closed when it returns: a change sent by path waits for them
	// (setByPath). Guarded by mu.
	writing map[chan struct{}]struct{}

	// later is set for a file opened by OpenLater whose handle is not
	// open yet; changed is its OnChange.
	later   bool
	changed func(Attr)
}

// Expect records the attributes the caller believes the file has, for the
// check made when the file is reopened after a lost connection.
func (f *File) Expect(a Attr) {
	f.mu.Lock()
	f.expect = &a
	f.expectChanges = f.c.changeCount(f.abs)
	s, h := f.s, f.f
	f.mu.Unlock()
	if a.Size > bulkFrom {
		// Large enough for the bulk sessions: open it on them now, while
		// the first bytes come through h, not when the reads get there.
		go f.openAllBulk(s, h)
	}
}

// Refresh replaces the attributes Expect recorded with newer ones (the
// file was changed on the server since the caller's were learned). Bulk
// handles already opened against the old ones checked them and stood
// down.
func (f *File) Refresh(a Attr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expect = &a
	f.expectChanges = f.c.changeCount(f.abs)
}

// CreateFile opens rel with O_CREATE added to flags, gives it mode and
// returns its attributes. pkg/sftp sends no attributes with open, so the
// mode is a second request, sent together with the fstat: two round trips
// in all.
func (c *Client) CreateFile(ctx context.Context, rel string, flags int, mode os.FileMode) (*File, Attr, error) {
	f, err := c.OpenFile(ctx, rel, flags|os.O_CREATE)
	if err != nil {
		return nil, Attr{}, err
	}
	var a Attr
	var chmodErr, statErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		chmodErr = f.Chmod(ctx, mode)
	}()
	go func() { defer wg.Done(); a, statErr = f.Stat(ctx) }()
	wg.Wait()
	if err := errors.Join(chmodErr, statErr); err != nil {
		go f.Close(context.Background())
		return nil, Attr{}, err
	}
	a.Mode = a.Mode&os.ModeType | mode
	return f, a, nil
}

// OpenFile opens rel with os.O_* flags (O_CREATE, O_EXCL, O_TRUNC, O_APPEND
// are passed to the server). Opening is tried again after a lost
// connection (a handle left on it died with it): an open that may create
// or truncate once the old session has settled, and an O_EXCL create only
// once the new session has told whether it made the file (createdHere):
// the file it made is opened without O_EXCL, not reported EEXIST.
func (c *Client) OpenFile(ctx context.Context, rel string, flags int) (*File, error) {
	f := c.newFile(rel, flags)
	if err := f.open(ctx, flags); err != nil {
		return nil, err
	}
	return f, nil
}

// OpenLater returns rel, opened for reading, without asking the server:
// its handle is opened when a call first needs one (Opened), so an open
// whose reads the kernel's pages answer costs no round trip. a is what
// the caller knows of the file. The handle, once open, is checked
// against it: a file another client changed since is read as it now is,
// and onChange, when set, hears of its new attributes first. ok is false
// for a file large enough for the bulk sessions, which OpenKnown opens.
func (c *Client) OpenLater(rel string, a Attr, onChange func(Attr)) (f *File, ok bool) {
	if a.Size > bulkFrom {
		return nil, false
	}
	f = c.newFile(rel, os.O_RDONLY)
	f.expect, f.expectChanges = &a, c.changeCount(f.abs)
	f.later, f.changed = true, onChange
	return f, true
}

// Opened opens the handle of a file OpenLater gave, if not open yet. A
// file renamed or removed through this mount since fails with ErrStale:
// its path names another file now, or none (callers open the handle
// before such a change, see fs).
func (f *File) Opened(ctx context.Context) error {
	f.mu.Lock()
	later := f.later
	f.mu.Unlock()
	if !later {
		return nil
	}
	ctx, cancel := f.c.callContext(ctx)
	defer cancel()
	_, _, err := f.reopenAfter(ctx, nil)
	return err
}

// openLater is reopen for the first open of an OpenLater file.
func (f *File) openLater(ctx context.Context, expect Attr) (*session, *sftp.File, error) {
	if f.c.nameCount(f.abs) != f.names {
		return nil, nil, &OpError{Op: "open", Path: f.abs, Err: ErrStale}
	}
	// The attributes are asked for beside the open, not after it: the
	// open and its check cost one round trip, as an open that asks does.
	var now Attr
	var statErr error
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		now, statErr = f.c.Stat(ctx, f.rel)
	}()
	s, h, err := f.c.open(ctx, f.abs, f.reopenFlags)
	<-asked
	if err == nil && statErr != nil {
		go h.Close()
		err = statErr
	}
	if err != nil {
		return nil, nil, err
	}
	if now.Size != expect.Size || !now.Mtime.Equal(expect.Mtime) {
		f.c.cfg.debugf("%s changed on the server since it was known: read as it now is", f.abs)
		f.mu.Lock()
		f.expect = &now
		f.mu.Unlock()
		if f.changed != nil {
			f.changed(now)
		}
	}
	return s, h, nil
}

func (c *Client) newFile(rel string, flags int) *File {
	return &File{c: c, rel: rel, abs: c.abs(rel), reopenFlags: flags &^ (os.O_CREATE | os.O_EXCL | os.O_TRUNC), names: c.nameCount(c.abs(rel))}
}

// open opens f with flags on the current session, as OpenFile says.
func (f *File) open(ctx context.Context, flags int) error {
	c := f.c
	ctx, cancel := c.callContext(ctx) // one deadline for the open and its retries
	defer cancel()
	s, h, err := c.open(ctx, f.abs, flags)
	for try := 0; ; try++ {
		wait := reopenBackoff[min(try, len(reopenBackoff)-1)]
		if err == nil || !c.cfg.Reconnect || !lostConnection(err) {
			break
		}
		// One that may create or truncate: the old server may still run it.
		if flags != f.reopenFlags && s != nil && !s.settle(ctx) || !sleepCtx(ctx, wait) {
			break
		}
		if flags&os.O_EXCL != 0 {
			mine := false
			s, err = c.callOnce(ctx, "create (settling)", f.rel, func(s *session) error {
				var cerr error
				mine, cerr = c.createdHere(s, f.abs)
				return cerr
			})
			if err != nil {
				c.settledDebug("create", f.rel, err)
				continue
			}
			if mine {
				c.cfg.debugf("create %s cut off by a lost connection had taken effect: opened without O_EXCL", f.abs)
				flags = f.reopenFlags
			}
		}
		s, h, err = c.open(ctx, f.abs, flags)
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.s, f.f = s, h
	f.mu.Unlock()
	return nil
}

// open opens abs on the current session, dialing one if needed, within
// ctx's deadline. It returns the session it ran on even with an error.
func (c *Client) open(ctx context.Context, abs string, flags int) (*session, *sftp.File, error) {
	if flags&(os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_RDWR) != 0 {
		c.sending(abs) // a create, or a write's close to come
	}
	s, err := c.session(ctx)
	if err != nil {
		return nil, nil, &OpError{Op: "open", Path: abs, Err: err}
	}
	var h *sftp.File
	start := time.Now()
	err = runOn(ctx, s, "open", abs, func(sc *sftp.Client) error {
		var err error
		h, err = sc.OpenFile(abs, flags)
		return err
	})
	c.cfg.debugf("  sftp open %s: %v in %v", abs, errOrOK(err), time.Since(start).Round(time.Microsecond))
	if err != nil {
		if h != nil {
			go h.Close()
		}
		return s, nil, err // the session, for its settling
	}
	return s, h, nil
}

// knownSize is the size given to Expect, while nothing this mount did
// can have changed it.
func (f *File) knownSize() (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.expect == nil || f.c.changeCount(f.abs) != f.expectChanges {
		return 0, false
	}
	return f.expect.Size, true
}

func (f *File) current() (*session, *sftp.File) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s, f.f
}

// run calls fn with the file's handle under the call deadline, reopening
// and trying once more after a lost connection when repeatable says the
// call may run twice.
func (f *File) run(ctx context.Context, op string, repeatable bool, fn func(h *sftp.File) error) error {
	return f.runAt(ctx, op, -1, repeatable, fn)
}

// runAt is run for data at off, which may be served by a bulk session's
// handle (see bulk.go); off < 0 means the file's own handle.
func (f *File) runAt(ctx context.Context, op string, off int64, repeatable bool, fn func(h *sftp.File) error) error {
	ctx, cancel := f.c.callContext(ctx) // one deadline for the call and its retries
	defer cancel()
	s, h := f.current()
	if s == nil { // OpenLater's, not open yet
		var err error
		if s, h, err = f.reopenAfter(ctx, nil); err != nil {
			return err
		}
	}
	err := f.runOnce(ctx, op, s, f.handleFor(ctx, s, h, off), fn)
	// After a lost connection: reopen (the server may take a moment to
	// come back, so with a short backoff) and try again, for as long as
	// the deadline allows: a link that keeps failing gets every chance.
	for try := 0; ; try++ {
		wait := reopenBackoff[min(try, len(reopenBackoff)-1)]
		if err == nil || !repeatable || !f.c.cfg.Reconnect || !lostConnection(err) || ctx.Err() != nil {
			return err
		}
		dead := s
		var rerr error
		if s, h, rerr = f.reopenAfter(ctx, s); rerr != nil {
			if errors.Is(rerr, ErrStale) {
				return rerr
			}
			if !sleepCtx(ctx, wait) {
				return err
			}
			s, h = f.current()
			continue
		}
		if changingOps[op] && !dead.settle(ctx) {
			return err
		}
		err = f.runOnce(ctx, op, s, f.handleFor(ctx, s, h, off), fn)
	}
}

// reopenBackoff spaces the attempts to reopen a file after a lost
// connection, the last repeated; all attempts share the call's one
// deadline.
var reopenBackoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}

func (f *File) runOnce(ctx context.Context, op string, s *session, h *sftp.File, fn func(*sftp.File) error) error {
	if err := f.c.refusedBefore(op); err != nil {
		return &OpError{Op: op, Path: f.abs, Err: err}
	}
	start := time.Now()
	err := runOn(ctx, s, op, f.abs, func(*sftp.Client) error { return fn(h) })
	f.c.cfg.debugf("  sftp %s %s: %v in %v", op, f.abs, errOrOK(err), time.Since(start).Round(time.Microsecond))
	if err != nil {
		f.c.learn(op, err)
	}
	return err
}

// reopenAfter reopens the file unless another call already did since the
// session dead died. One reopen runs at a time; the others wait for it,
// each no longer than its own deadline.
func (f *File) reopenAfter(ctx context.Context, dead *session) (*session, *sftp.File, error) {
	for {
		f.mu.Lock()
		if f.s != dead {
			s, h := f.s, f.f
			f.mu.Unlock()
			return s, h, nil
		}
		if wait := f.reopening; wait != nil {
			f.mu.Unlock()
			if err := waitOrGiveUp(ctx, wait); err != nil {
				return nil, nil, err
			}
			continue
		}
		if dead == nil && !f.later { // an OpenLater file closed before it was opened
			f.mu.Unlock()
			return nil, nil, &OpError{Op: "read", Path: f.abs, Err: os.ErrClosed}
		}
		done := make(chan struct{})
		f.reopening = done
		expect, expectChanges, later := f.expect, f.expectChanges, f.later
		f.mu.Unlock()

		var s *session
		var h *sftp.File
		var err error
		if later {
			s, h, err = f.openLater(ctx, *expect)
		} else {
			s, h, err = f.reopen(ctx, expect, expectChanges)
		}
		f.mu.Lock()
		f.reopening = nil
		if err == nil {
			f.s, f.f, f.later, f.byPath = s, h, false, true
			f.bulk = nil // they went with the old session
		}
		f.mu.Unlock()
		close(done)
		return s, h, err
	}
}

func (f *File) reopen(ctx context.Context, expect *Attr, expectChanges uint64) (*session, *sftp.File, error) {
	s, h, err := f.c.open(ctx, f.abs, f.reopenFlags)
	if errors.Is(err, os.ErrNotExist) {
		err = &OpError{Op: "reopen", Path: f.abs, Err: ErrStale}
	}
	if err == nil && expect != nil && f.c.changeCount(f.abs) == expectChanges {
		err = f.sameFile(ctx, s, h, *expect)
	}
	if err != nil {
		f.c.cfg.debugf("reopening %s after a lost connection failed: %v", f.abs, err)
		return nil, nil, err
	}
	f.c.cfg.debugf("reopened %s on a new connection", f.abs)
	return s, h, nil
}

// sameFile checks that the reopened handle is the file this handle had
// open: SFTP has no inode numbers, so size and mtime must match what was
// known, unless this handle changed them itself.
func (f *File) sameFile(ctx context.Context, s *session, h *sftp.File, expect Attr) error {
	err := f.isFile(ctx, s, h, expect)
	if err != nil {
		go h.Close()
	}
	return err
}

// isFile is sameFile without closing h.
func (f *File) isFile(ctx context.Context, s *session, h *sftp.File, expect Attr) error {
	var now Attr
	err := runOn(ctx, s, "fstat", f.abs, func(*sftp.Client) error {
		fi, err := h.Stat()
		if err == nil {
			now = attrOf(fi)
		}
		return err
	})
	if err == nil && (now.Size != expect.Size || !now.Mtime.Equal(expect.Mtime)) {
		err = &OpError{Op: "reopen", Path: f.abs, Err: ErrStale}
	}
	return err
}

func lostConnection(err error) bool {
	return errors.Is(err, ErrConnectionLost) || errors.Is(err, ErrTimeout)
}

// ReadAt fills p from off. It returns fewer bytes only at end of file, and
// then io.EOF. pkg/sftp can report a short server reply as EOF (pkg/sftp
// issue 658), so an early EOF is checked against the file's size and the
// rest is asked for again rather than silently truncating.
//
// A read reaching past the size known at open asks for the bytes up to
// it only: pkg/sftp asks again after a short answer (readChunkAt), a
// second round trip for every small file read whole, to learn what the
// size already says.
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if size, ok := f.knownSize(); ok && off >= 0 && uint64(off) < size && uint64(off)+uint64(len(p)) > size {
		n, err := f.readAt(ctx, p[:size-uint64(off)], off)
		if err != nil || uint64(n) < size-uint64(off) {
			return n, err
		}
		if size, ok := f.knownSize(); ok && uint64(off)+uint64(n) >= size {
			return n, io.EOF
		}
		// Something of ours changed the file meanwhile: the rest as
		// the server has it.
		m, err := f.readAt(ctx, p[n:], off+int64(n))
		return n + m, err
	}
	return f.readAt(ctx, p, off)
}

func (f *File) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	total := 0
	stalls := 0
	for total < len(p) {
		var n int
		err := f.runAt(ctx, "read", off+int64(total), true, func(h *sftp.File) error {
			var err error
			n, err = h.ReadAt(p[total:], off+int64(total))
			return err
		})
		total += n
		if n > 0 {
			stalls = 0
		}
		switch {
		case err == nil && n > 0:
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return total, err
		}
		// EOF, or a reply with no bytes: is the file really that short?
		// The size known at open answers without a round trip when the
		// reply reached it; only an early end needs an fstat.
		if size, ok := f.knownSize(); ok && uint64(off)+uint64(total) >= size {
			return total, io.EOF
		}
		a, serr := f.Stat(ctx)
		if serr != nil {
			return total, serr
		}
		if a.Size <= uint64(off)+uint64(total) {
			return total, io.EOF
		}
		if stalls++; stalls > 3 {
			return total, &OpError{Op: "read", Path: f.abs, Err: io.ErrUnexpectedEOF}
		}
	}
	return total, nil
}

// WriteAt writes all of p at off or returns an error.
func (f *File) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	return f.WriteAtThen(ctx, p, off, nil)
}

// WriteAtThen is WriteAt that also calls sent (unless nil), once, when a
// request made from then on will reach the server after this write, on a
// server that runs requests in order (ordered.go): as soon as the write
// has gone out on the connection that path requests use too, or else when
// it is answered. A lost connection breaks the order: the write is sent
// again on the new one, perhaps after such a request; Rewrites tells.
func (f *File) WriteAtThen(ctx context.Context, p []byte, off int64, sent func()) (int, error) {
	var once func()
	if sent != nil {
		once = sync.OnceFunc(sent)
		defer once()
	}
	f.c.changing(f.abs)
	defer f.writeEnded(f.writeStarted())
	var n, tries int
	defer func() {
		if tries > 1 {
			f.rewrites.Add(1)
		}
	}()
	err := f.runAt(ctx, "write", off, f.reopenFlags&os.O_APPEND == 0, func(h *sftp.File) error {
		tries++
		if w := f.watchFor(h); w != nil && once != nil {
			defer w.watch(p, once)()
		}
		var err error
		n, err = h.WriteAt(p, off)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		return err
	})
	return n, err
}

// writeStarted records a write in flight, until writeEnded is given what
// it returned.
func (f *File) writeStarted() chan struct{} {
	done := make(chan struct{})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writing == nil {
		f.writing = map[chan struct{}]struct{}{}
	}
	f.writing[done] = struct{}{}
	return done
}

func (f *File) writeEnded(done chan struct{}) {
	f.mu.Lock()
	delete(f.writing, done)
	f.mu.Unlock()
	close(done)
}

// writesReturned waits until every write in flight now has returned
// (answered, or failed for good), within the call deadline.
func (f *File) writesReturned(ctx context.Context, op string) error {
	f.mu.Lock()
	var writing []chan struct{}
	for done := range f.writing {
		writing = append(writing, done)
	}
	f.mu.Unlock()
	if len(writing) == 0 {
		return nil
	}
	ctx, cancel := f.c.callContext(ctx)
	defer cancel()
	for _, done := range writing {
		select {
		case <-done:
		case <-ctx.Done():
			return &OpError{Op: op, Path: f.abs, Err: ErrTimeout}
		}
	}
	return nil
}

// Rewrites counts the writes sent again after a lost connection, counted
// as each returns: one that returns after a request was sent may have
// reached the server after it.
func (f *File) Rewrites() uint64 { return f.rewrites.Load() }

// watchFor returns the sentWatch of h's session when h is the file's own
// handle on the connection path requests go to: a bulk session's requests
// are on another channel, in no order with the rest.
func (f *File) watchFor(h *sftp.File) *sentWatch {
	f.mu.Lock()
	own, s := h == f.f, f.s
	f.mu.Unlock()
	if !own || s.sent == nil {
		return nil
	}
	f.c.mu.Lock()
	cur := f.c.cur
	f.c.mu.Unlock()
	if cur != s {
		return nil
	}
	return s.sent
}

// Stat returns the attributes of the open file (fstat).
func (f *File) Stat(ctx context.Context) (Attr, error) {
	var a Attr
	err := f.run(ctx, "fstat", true, func(h *sftp.File) error {
		fi, err := h.Stat()
		if err == nil {
			a = attrOf(fi)
		}
		return err
	})
	return a, err
}

// Truncate sets the size through the handle (fsetstat).
func (f *File) Truncate(ctx context.Context, size uint64) error {
	f.c.changing(f.abs)
	return f.run(ctx, "ftruncate", true, func(h *sftp.File) error { return h.Truncate(int64(size)) })
}

// Sync asks the server to fsync (fsync@openssh.com); it returns once the
// server has. Without the extension (or when the server refuses it) it
// returns nil at once, as sshfs does: the caller has waited for every
// write to be answered, which is all such a server promises (lacks.go).
func (f *File) Sync(ctx context.Context) error {
	return f.run(ctx, "fsync", true, func(h *sftp.File) error {
		err := h.Sync() // pkg/sftp sends nothing to a server without the extension
		if f.c.refused(err, extFsync) {
			return nil
		}
		return err
	})
}

// Close releases the remote handle. The server reports some write errors
// only here (a full disk on an NFS-backed server, say), so the error
// matters; but a handle whose connection is gone was closed by the server
// with it, and every write on it had been answered (callers flush first).
func (f *File) Close(ctx context.Context) error {
	// The kernel's release has no deadline: the bulk handles' closes get
	// the call's own, as every remote call does.
	bctx, cancel := f.c.callContext(ctx)
	defer cancel()
	bulkErr := f.closeBulk(bctx)
	f.mu.Lock()
	never := f.later
	f.later = false // a call racing the close opens nothing more
	f.mu.Unlock()
	if never {
		return bulkErr
	}
	err := f.run(ctx, "close", false, func(h *sftp.File) error { return h.Close() })
	if lostConnection(err) {
		err = nil
	}
	return errors.Join(err, bulkErr)
}
