package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote/transport"
)

// Client is the mount's handle on the server. Paths given to it are
// relative to the served directory ("" is the directory itself). Every call
// takes a context and is bounded by Config.Timeout on top of it.
type Client struct {
	cfg      Config
	chain    *transport.Chain // jump hosts, then the target
	root     string           // absolute remote path of the served directory
	rootAttr Attr             // the served directory at mount
	home     Attr             // the login directory: its owner is the remote user

	mu      sync.Mutex // guards cur and dialing
	cur     *session
	dialing chan struct{}                               // closed when the redial in progress ends; one at a time
	dialFn  func(ctx context.Context) (*session, error) // tests: dials instead of chain

	// changes counts, per absolute path, the writes, truncates and time
	// changes this mount made, so that a file reopened after a lost
	// connection is not called stale for what the mount did itself.
	changesMu sync.Mutex
	changes   map[string]uint64
	// names counts, per absolute path, renames and removals through this
	// mount: a file open under a name that moved since (itself or a
	// directory above it) is not opened again under that name for a
	// second session (bulk.go).
	names map[string]uint64
	// own, when set, hears of every change this mount is about to send,
	// by path relative to the root, before it is sent (SendingChanges).
	own atomic.Pointer[func(rel string)]

	calls, reconnects atomic.Int64 // for Stats
	noIdentity        atomic.Bool  // the server cannot tell which names are one file (Identify)
	identNext         atomic.Int64 // the Identifier slot the next Identify takes
	lacks             lacking      // what the server lacks, and what is done instead (lacks.go)

	trees treeShells // the shells that answer Tree, kept between requests (tree.go)

	feedMu     sync.Mutex // guards feed and feedClosed
	feed       *feed      // the change feed (feed.go), once started
	feedClosed bool       // Close was called: a feed started after is stopped
}

// Stats are counters of the client's life, for `sftpmount status`.
type Stats struct {
	Calls      int64 // remote calls made (each retry counted)
	Reconnects int64 // sessions dialed after the first
	Connected  bool  // the current session is alive
}

// Stats reports the client's counters now.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	up := c.cur != nil && !c.cur.isDead()
	c.mu.Unlock()
	return Stats{Calls: c.calls.Load(), Reconnects: c.reconnects.Load(), Connected: up}
}

// SendingChanges has fn told of each change this mount is about to send
// (a create, write, truncate, attribute change, rename, removal, mkdir,
// rmdir, symlink or link), by path relative to the served root, before
// the request goes out: the server's change feed may tell of the change
// before its answer comes (fs/feed.go). fn must be quick.
func (c *Client) SendingChanges(fn func(rel string)) { c.own.Store(&fn) }

// sending tells SendingChanges's fn of a change to abs about to be sent.
func (c *Client) sending(abs ...string) {
	fn := c.own.Load()
	if fn == nil {
		return
	}
	for _, p := range abs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, c.root), "/")
		if p == c.root || strings.HasPrefix(p, c.root+"/") || c.root == "/" {
			(*fn)(rel)
		}
	}
}

// moving notes that abs is about to be renamed, replaced or removed.
func (c *Client) moving(abs ...string) {
	c.sending(abs...)
	c.changesMu.Lock()
	defer c.changesMu.Unlock()
	if c.names == nil {
		c.names = map[string]uint64{}
	}
	for _, p := range abs {
		c.names[p]++
	}
}

// nameCount sums the moves of abs and of every directory above it.
func (c *Client) nameCount(abs string) uint64 {
	c.changesMu.Lock()
	defer c.changesMu.Unlock()
	var n uint64
	for p := abs; ; p = path.Dir(p) {
		n += c.names[p]
		if p == "/" || p == "." {
			return n
		}
	}
}

// changing notes that this mount is about to change abs's size or mtime.
func (c *Client) changing(abs string) {
	c.sending(abs)
	c.changesMu.Lock()
	defer c.changesMu.Unlock()
	if c.changes == nil {
		c.changes = map[string]uint64{}
	}
	c.changes[abs]++
}

func (c *Client) changeCount(abs string) uint64 {
	c.changesMu.Lock()
	defer c.changesMu.Unlock()
	return c.changes[abs]
}

// Connect dials the server, authenticates, and resolves the directory to
// serve. Its errors are *StartupError, classified for the exit code.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Debug == nil {
		cfg.Debug = discardLogger
	}
	chain, err := transport.NewChain(transport.Options{
		Target: cfg.Target, Prompter: cfg.Prompter, Password: cfg.Password, KeepPassword: cfg.KeepPassword,
		Debugf: cfg.debugf, Notice: cfg.notice,
	})
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, chain: chain}
	s, err := dial(ctx, &c.cfg, chain)
	if err != nil {
		return nil, err
	}
	chain.LoggedIn()
	c.cur = s
	c.startBulk(s)
	c.startWire(s)
	if err := c.serve(s); err != nil {
		return nil, err
	}
	return c, nil
}

// serve finds, on the first session s, the directory to serve and the
// login directory.
func (c *Client) serve(s *session) error {
	root, rootAttr, err := resolveRoot(s.sftp, c.cfg.Dir)
	if err != nil {
		s.close(errors.New("startup failed"))
		return &StartupError{Kind: StartupRemoteDir, Err: err}
	}
	c.root, c.rootAttr = root, rootAttr
	if fi, err := s.sftp.Stat("."); err == nil {
		c.home = attrOf(fi)
	}
	c.cfg.debugf("serving remote directory %s", root)
	c.probe(s.sftp)
	return nil
}

// resolveRoot turns the user's dir (empty, relative to the login directory,
// or absolute) into an absolute path and checks it is a directory, whose
// attributes it returns.
func resolveRoot(sc *sftp.Client, dir string) (string, Attr, error) {
	p := dir
	if p == "" {
		p = "."
	}
	if !path.IsAbs(p) {
		home, err := sc.RealPath(".")
		if err != nil {
			return "", Attr{}, fmt.Errorf("remote home directory: %w", err)
		}
		p = path.Join(home, p)
	}
	p = path.Clean(p)
	fi, err := sc.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", Attr{}, fmt.Errorf("remote directory %s: no such directory", p)
	case errors.Is(err, os.ErrPermission):
		return "", Attr{}, fmt.Errorf("remote directory %s: permission denied", p)
	case err != nil:
		return "", Attr{}, fmt.Errorf("remote directory %s: %w", p, err)
	case !fi.IsDir():
		return "", Attr{}, fmt.Errorf("remote directory %s: not a directory", p)
	}
	return p, attrOf(fi), nil
}

// RootAttr is what the served directory looked like at mount: the first
// call of a mount (a cd into it) needs no round trip for it.
func (c *Client) RootAttr() Attr { return c.rootAttr }

// LoginOwner is the uid and gid owning the remote login directory, which is
// how sshfs tells the remote user's ids (SFTP v3 has no request for them).
func (c *Client) LoginOwner() (uid, gid uint32) { return c.home.UID, c.home.GID }

// Root is the absolute remote path being served.
func (c *Client) Root() string { return c.root }

// Close ends the connection; calls in flight fail.
func (c *Client) Close() {
	c.stopFeed()
	c.trees.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.close(errors.New("client closed"))
	}
}

func (c *Client) abs(rel string) string { return path.Join(c.root, rel) }

// session returns the live session, dialing a new one if the last died.
// Open files keep the session they were opened on (see File).
func (c *Client) session(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		if c.cur != nil && !c.cur.isDead() {
			s := c.cur
			c.mu.Unlock()
			return s, nil
		}
		if !c.cfg.Reconnect {
			c.mu.Unlock()
			return nil, ErrNotConnected
		}
		if wait := c.dialing; wait != nil {
			// Another call is dialing: wait for it, but no longer than
			// this call's own deadline.
			c.mu.Unlock()
			if err := waitOrGiveUp(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		done := make(chan struct{})
		c.dialing = done
		c.mu.Unlock()
		s, err := c.redial(ctx)
		c.mu.Lock()
		c.dialing = nil
		if err == nil {
			c.reconnects.Add(1)
			c.cur = s
			c.startBulk(s)
			c.startWire(s)
		}
		c.mu.Unlock()
		close(done)
		return s, err
	}
}

func (c *Client) redial(ctx context.Context) (*session, error) {
	c.cfg.debugf("reconnecting")
	dialFn := c.dialFn
	if dialFn == nil {
		dialFn = func(ctx context.Context) (*session, error) { return dial(ctx, &c.cfg, c.chain) }
	}
	s, err := dialFn(ctx)
	if err != nil {
		c.cfg.debugf("reconnect failed: %v", err)
		return nil, fmt.Errorf("%w: reconnect: %v", ErrConnectionLost, err)
	}
	return s, nil
}

// waitOrGiveUp waits for done, or fails once ctx's deadline has passed.
func waitOrGiveUp(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the reconnect: %v", ErrConnectionLost, ctx.Err())
	}
}

// callContext bounds a remote call by the call deadline alone. The
// kernel's interrupt (any signal to the caller, even Go's runtime
// preemption) is deliberately not passed on: giving up on an unlink or a
// rename the server may already have done would report EINTR for an
// operation that happened. The deadline still bounds every wait.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Value(progressKey{}).(bool); ok {
		return progressContext(context.WithoutCancel(ctx), c.cfg.Timeout)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
}

// A call made with withProgress (a listing of a million names) has its
// deadline -o timeout after its last progress, not after its start: each
// progress (a batch of names) calls progressed.
type progressKey struct{}
type touchKey struct{}

func withProgress(ctx context.Context) context.Context {
	return context.WithValue(ctx, progressKey{}, true)
}

// progressContext ends timeout after it was made or last progressed.
func progressContext(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	t := time.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
	pause := func() (resume func()) {
		t.Stop()
		return func() { t.Reset(timeout) }
	}
	return context.WithValue(ctx, touchKey{}, pause), func() { t.Stop(); cancel(context.Canceled) }
}

// progressed notes progress of the call whose context ctx is, and holds
// its deadline while the caller's own work runs (a reader that pauses is
// not a silent server): the deadline starts again when resume is called.
func progressed(ctx context.Context) (resume func()) {
	if pause, ok := ctx.Value(touchKey{}).(func() func()); ok {
		return pause()
	}
	return func() {}
}

// repeatableOps may run twice with the same outcome, so a call cut off by
// a lost connection is tried once more on a new one. Creating, removing
// and renaming are not: their second run would report EEXIST or ENOENT
// for a change that did happen, so they are settled instead (settle.go).
var repeatableOps = map[string]bool{
	"lstat": true, "stat": true, "readdir": true, "readlink": true, "statfs": true,
	"chmod": true, "chown": true, "utimens": true, "truncate": true,
	"identify": true,
}

// call runs fn against the current session. One deadline covers the call
// and any retries: a kernel request never waits longer than -o timeout.
func (c *Client) call(ctx context.Context, op, rel string, fn func(*sftp.Client) error) error {
	return c.callSession(ctx, op, rel, func(_ context.Context, s *session) error { return fn(s.sftp) })
}

// callSession is call for what needs the session itself (its wire.Conn).
// fn gets the call's own context, which only its deadline ends (not the
// kernel's interrupt: see callContext).
func (c *Client) callSession(ctx context.Context, op, rel string, call func(context.Context, *session) error) error {
	return c.change(ctx, op, rel, call, nil)
}

// change is callSession for a change that is not simply repeated: cut off
// by a lost connection, once the old session has settled, check asks the
// new one whether it took effect (see settle.go), and the change is sent
// again only when check says so. A nil check: the op is repeated if
// repeatableOps says it may be, else its error goes to the caller.
func (c *Client) change(ctx context.Context, op, rel string, call func(context.Context, *session) error, check settleCheck) error {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	fn := func(s *session) error { return call(ctx, s) }
	s, err := c.callOnce(ctx, op, rel, fn)
	for try := 0; ; try++ {
		wait := reopenBackoff[min(try, len(reopenBackoff)-1)]
		if err == nil || !lostConnection(err) {
			return err
		}
		if changingOps[op] && s != nil && !s.settle(ctx) {
			return err
		}
		if check == nil && !repeatableOps[op] || !c.cfg.Reconnect || !sleepCtx(ctx, wait) {
			return err
		}
		if check != nil {
			again := false
			s, err = c.callOnce(ctx, op+" (settling)", rel, func(s *session) error {
				var cerr error
				again, cerr = check(ctx, s)
				return cerr
			})
			if !again || err != nil {
				c.settledDebug(op, rel, err)
				continue // a lost connection again: settled once more; else err is the answer
			}
			c.cfg.debugf("%s %s cut off by a lost connection had not taken effect: sent again", op, c.abs(rel))
		}
		s, err = c.callOnce(ctx, op, rel, fn) // the server may have been restarting
	}
}

// changingOps change the server: cut off by a lost connection, each is
// sent again, or its error returned for the caller to ask what happened,
// only once the old session has settled (session.settle).
var changingOps = map[string]bool{
	"chmod": true, "chown": true, "utimens": true, "truncate": true, "copy-data": true,
	"rename": true, "remove": true, "rmdir": true, "mkdir": true, "symlink": true, "link": true, "create": true,
	"write": true, "ftruncate": true, "fchmod": true, "fsetstat": true,
}

// sleepCtx waits d unless ctx ends first; it reports whether time is left.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// callOnce runs fn on the current session, which it returns (nil if
// there was none to run on).
func (c *Client) callOnce(ctx context.Context, op, rel string, fn func(*session) error) (*session, error) {
	c.calls.Add(1)
	s, err := c.session(ctx)
	if err != nil {
		return nil, &OpError{Op: op, Path: c.abs(rel), Err: err}
	}
	if err := c.refusedBefore(op); err != nil {
		return s, &OpError{Op: op, Path: c.abs(rel), Err: err}
	}
	start := time.Now()
	err = runOn(ctx, s, op, c.abs(rel), func(*sftp.Client) error { return fn(s) })
	c.cfg.debugf("  sftp %s %s: %v in %v", op, c.abs(rel), errOrOK(err), time.Since(start).Round(time.Microsecond))
	if err != nil {
		c.learn(op, err)
	}
	return s, err
}

func errOrOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

// runOn is where deadlines are enforced: pkg/sftp v1 calls take no context
// and wait forever on a silent connection, so the call runs in its own
// goroutine and is abandoned when ctx ends. An overrun closes the session,
// which also releases the abandoned goroutine.
func runOn(ctx context.Context, s *session, op, abs string, fn func(*sftp.Client) error) error {
	if s.isDead() {
		return &OpError{Op: op, Path: abs, Err: s.why}
	}
	done := make(chan error, 1)
	go func() { done <- fn(s.sftp) }()
	// Silent for a third of the time left, the link is probed
	// (session.go, probe).
	var probeNow <-chan time.Time
	var left time.Duration
	if deadline, ok := ctx.Deadline(); ok && s.alive != nil {
		left = time.Until(deadline)
		t := time.NewTimer(probeAfter(left))
		defer t.Stop()
		probeNow = t.C
	}
	var err error
wait:
	select {
	case err = <-done:
		if !brokenTransport(err) && !s.isDead() {
			s.answered.Store(time.Now().UnixNano()) // the link carries answers (probe)
		}
		// pkg/sftp can notice a broken connection before we do.
		if brokenTransport(err) {
			s.close(fmt.Errorf("%w: %v", ErrConnectionLost, err))
		}
		// A connection that died mid-call can surface as io.EOF or a
		// generic status; never let that pass for a real answer.
		if err != nil && s.isDead() {
			err = s.why
		}
	case <-s.dead:
		err = outlive(done, s.why)
	case <-probeNow:
		probeNow = nil
		wait := s.probeWait
		if wait <= 0 {
			wait = probeAfter(left)
		}
		s.probe(wait)
		goto wait
	case <-ctx.Done():
		s.close(fmt.Errorf("%w: %s %s got no answer in time", ErrConnectionLost, op, abs))
		err = outlive(done, ErrTimeout)
	}
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	return &OpError{Op: op, Path: abs, Err: transport.UnwrapPathError(err)}
}

// outlive waits for a call whose session was closed under it to return,
// and then reports why. fn writes into its caller's memory (a read's
// buffer and count): a call the caller tried again while the first still
// ran could see the first one's late copy of old bytes land over the
// second's. Once the session's transport is closed, pkg/sftp fails every
// request at once, so this is short; should it not be (a transport that
// will not close), the caller must not try again, and gets ErrAbandoned.
func outlive(done <-chan error, why error) error {
	select {
	case <-done:
		return why
	case <-time.After(abandonAfter):
		return fmt.Errorf("%w: %v", ErrAbandoned, why)
	}
}

// abandonAfter bounds outlive's wait.
const abandonAfter = 5 * time.Second

// brokenTransport reports errors that mean the connection itself failed
// (a reset, a closed pipe), not the operation.
func brokenTransport(err error) bool {
	var netErr *net.OpError
	return errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection) ||
		errors.As(err, &netErr) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		// pkg/sftp's words when the channel is gone under a request (its
		// cause is often a bare io.EOF, which a read also returns at EOF).
		(err != nil && strings.Contains(err.Error(), "failed to send packet"))
}
