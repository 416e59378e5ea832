package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The change feed: where the server lets us run a command, inotifywait
// watches the directories the kernel holds and tells what changed in
// them, so that the mount may trust its caches until told otherwise. It
// runs feedScript (feedscript.go) through RunCommand and speaks the
// script's line protocol; it knows nothing of FUSE: it tells FeedEvents,
// in order, from one goroutine. Every wait on the server has a deadline;
// whatever goes wrong ends in Lost and a rebuild, never in a feed that
// vouches for what it does not watch. Watches are non-recursive, on the
// directories asked for only, at most feedMaxDirs (less when the server's
// max_user_watches is smaller), in at most feedMaxWatchers inotifywait
// processes (inotify instances are 128 a user by default).

// ChangeKind says what changed.
type ChangeKind uint8

const (
	NameChanged ChangeKind = iota + 1 // Name made, removed, or renamed to or from (create, delete, moved_from, moved_to)
	DataChanged                       // Name's content written (modify, close_write)
	AttrChanged                       // Name's attributes (attrib); Name "" is Dir itself
	DirGone                           // the watched directory itself removed, renamed or its filesystem unmounted (delete_self, move_self, unmount); Name ""
)

func (k ChangeKind) String() string {
	switch k {
	case NameChanged:
		return "name"
	case DataChanged:
		return "data"
	case AttrChanged:
		return "attr"
	case DirGone:
		return "dir-gone"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Change is one change told by the feed. Dir is a watched directory as
// the client's calls take paths (relative to the served root, "" the
// root); Name a name in it or "" (the directory itself).
type Change struct {
	Dir, Name string
	Kind      ChangeKind
	IsDir     bool
}

// FeedEvents receives the feed. Its methods are called from one
// goroutine, in order, never concurrently; they must not block long.
type FeedEvents interface {
	// Watching: dir's watch is in place: every change in it from now on
	// is told.
	Watching(dir string)
	Changed(Change)
	// Lost: the feed stopped vouching: every Watching before is void
	// (watcher died, queue overflow, connection lost, a line not
	// understood). The feed restarts by itself and re-watches every dir
	// asked (Watch) and not Unwatched, calling Watching again for each.
	Lost(why string)
}

// feedMaxDirs is how many directories are watched at most (a variable
// for the tests).
var feedMaxDirs = 8192

const (
	feedMaxWatchers = 6    // inotifywait processes at most, but for the one starting
	feedMaxPath     = 3000 // longer paths are not watched: inotifywait cuts its lines near 4000 bytes
	feedMaxField    = 8192 // a line or record field longer than this is not understood
	feedBackoffMax  = 30 * time.Second
	feedRefusedPoll = 2 * time.Second // how often an off feed looks for a new session
)

// feed is the client's change feed; nil until StartFeed.
type feed struct {
	c  *Client
	ev FeedEvents

	mu       sync.Mutex
	want     map[string]bool // rel dirs asked (Watch) and not Unwatched
	status   string
	watched  int // directories vouched for now
	skipped  int // asked but never watched: a newline in the path, or too long
	over     int // asked but not watched: the limit
	limit    int
	wake     chan struct{} // a Watch or Unwatch to look at
	stop     chan struct{} // closed by Close
	stopOnce sync.Once
	lastLog  string
	pids     map[string]bool // the inotifywait processes running, as the script told (tests, -d)
	maxDirs  int             // feedMaxDirs when started
	closedOf *session        // the session closed is for (connClosed)
	closed   chan struct{}
}

// StartFeed starts the change feed, once, after Connect; it runs in the
// background until c.Close(). When commands cannot run it only records
// why (FeedStatus).
func (c *Client) StartFeed(ev FeedEvents) {
	c.feedMu.Lock()
	defer c.feedMu.Unlock()
	if c.feed != nil {
		return
	}
	f := &feed{c: c, ev: ev, want: map[string]bool{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), status: "starting", limit: feedMaxDirs, maxDirs: feedMaxDirs}
	c.feed = f
	if c.feedClosed {
		f.stopOnce.Do(func() { close(f.stop) })
	}
	go f.run()
}

func (c *Client) getFeed() *feed {
	c.feedMu.Lock()
	defer c.feedMu.Unlock()
	return c.feed
}

// stopFeed ends the feed (Close).
func (c *Client) stopFeed() {
	c.feedMu.Lock()
	defer c.feedMu.Unlock()
	c.feedClosed = true
	if f := c.feed; f != nil {
		f.stopOnce.Do(func() { close(f.stop) })
	}
}

// Watch asks for dir to be watched: asynchronous, idempotent, cheap
// (called on every lookup of a directory); batched.
func (c *Client) Watch(dir string) {
	f := c.getFeed()
	if f == nil {
		return
	}
	f.mu.Lock()
	if !f.want[dir] {
		f.want[dir] = true
		f.poke()
	}
	f.mu.Unlock()
}

// Unwatch: the kernel forgot dir; the feed may keep watching it until the
// next rebuild, but tells nothing more of it.
func (c *Client) Unwatch(dir string) {
	f := c.getFeed()
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.want[dir] {
		delete(f.want, dir)
		f.poke()
	}
	f.mu.Unlock()
}

// FeedStatus is one line for `sftpmount status` and -d.
func (c *Client) FeedStatus() string {
	f := c.getFeed()
	if f == nil {
		return "off: not started"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statusLocked()
}

func (f *feed) statusLocked() string {
	s := f.status
	if strings.HasPrefix(s, "up") {
		s = fmt.Sprintf("up: inotifywait, %d directories watched", f.watched)
		if f.over > 0 {
			s += fmt.Sprintf("; %d directories not watched: the limit of %d", f.over, f.limit)
		}
		if f.skipped > 0 {
			s += fmt.Sprintf("; %d directories not watched: a newline in the path, or a path too long", f.skipped)
		}
	}
	return s
}

// poke wakes the run loop; f.mu held or not.
func (f *feed) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// setStatus records the state and logs it once per change of state.
func (f *feed) setStatus(s string) {
	f.mu.Lock()
	f.status = s
	line := f.statusLocked()
	changed := !sameState(line, f.lastLog)
	if changed {
		f.lastLog = line
	}
	f.mu.Unlock()
	if changed {
		f.c.cfg.debugf("change feed: %s", line)
	}
}

// sameState: two status lines in the same state (up with other counts is
// no change of state).
func sameState(a, b string) bool {
	if strings.HasPrefix(a, "up") && strings.HasPrefix(b, "up") {
		return true
	}
	return a == b
}

func (f *feed) stopped() bool {
	select {
	case <-f.stop:
		return true
	default:
		return false
	}
}

// sleep waits d, or less if the feed is stopped; it reports whether the
// feed goes on.
func (f *feed) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-f.stop:
		return false
	}
}

// An ending of one run of the watcher.
type feedEnd struct {
	why   string
	off   bool // not worth trying again before a new session
	never bool // not worth trying again at all (remote_commands=no)
	up    time.Duration
}

// run starts the watcher, again and again, until the feed stops.
func (f *feed) run() {
	backoff := time.Second
	for !f.stopped() {
		s := f.waitSession()
		if s == nil {
			return // stopped
		}
		r := &feedRun{f: f, sess: s}
		end := r.run()
		if end.off && r.connectionLost() {
			// A channel refused or ended by a link being cut is no
			// answer about the server (the soak's resets said "runs no
			// commands" of one that does).
			end = feedEnd{why: "connection lost"}
		}
		if f.stopped() {
			r.lost("client closed")
			return
		}
		r.lost(end.why)
		switch {
		case end.never:
			f.setStatus("off: " + end.why)
			return
		case end.off:
			f.setStatus("off: " + end.why)
			if !f.waitNewSession(s) {
				return
			}
			backoff = time.Second
			continue
		}
		if end.up > time.Minute {
			backoff = time.Second
		}
		f.setStatus(fmt.Sprintf("down: %s; again in %v", end.why, backoff))
		if !f.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, feedBackoffMax)
	}
}

// waitSession waits, without dialing, for a live session; nil if the
// feed stopped. With Config.Exec (ssh_command) commands do not run on
// the session, but a dead one still means the link is down.
func (f *feed) waitSession() *session {
	for {
		f.c.mu.Lock()
		s := f.c.cur
		f.c.mu.Unlock()
		if s != nil && !s.isDead() && !f.closedConn(s) {
			return s
		}
		if !f.sleep(time.Second) {
			return nil
		}
	}
}

// waitNewSession waits until the client has a live session other than
// old; false if the feed stopped.
func (f *feed) waitNewSession(old *session) bool {
	for {
		if !f.sleep(feedRefusedPoll) {
			return false
		}
		f.c.mu.Lock()
		s := f.c.cur
		f.c.mu.Unlock()
		if s != nil && s != old && !s.isDead() {
			return true
		}
	}
}

// feedWatcher is one inotifywait on the server.
type feedWatcher struct {
	id       int
	spid     string   // its subshell, which "k" ends
	pid      string   // inotifywait itself
	dirs     []string // absolute
	replaces []*feedWatcher
	fresh    []string // dirs of this batch not vouched for before
	lines    []string // its stderr while starting
	start    time.Time
}

// feedRun is one run of the script.
type feedRun struct {
	f    *feed
	sess *session
	rw   io.ReadWriteCloser

	told     bool                    // a Watching told since the last Lost
	watchers []*feedWatcher          // established, oldest first
	pending  *feedWatcher            // starting; one at a time
	holder   map[string]*feedWatcher // abs dir -> the watcher vouching for it
	vouched  map[string]bool         // abs dirs told Watching and not Unwatched since
	bad      map[string]bool         // rel dirs never to ask for (refused)
	dirty    bool                    // what is asked may differ from what is watched
	nextID   int
	limit    int

	// An overflow of a watcher's queue is not told by inotifywait
	// (3.22 prints nothing for IN_Q_OVERFLOW): a queue can overflow
	// only once it holds queued (max_queued_events) events unread, and
	// those are all delivered after, so a burst of as many events,
	// none more than feedBurstGap after the one before, is taken for
	// one.
	queued    int
	burst     int
	lastEvent time.Time
}

// feedBurstGap ends a burst of events (see feedRun.queued).
const feedBurstGap = 2 * time.Second

// A record or line from the script.
type feedItem struct {
	line          string // a line of its own, or inotifywait's stderr
	dir, name, ev string // an event record
	event         bool
	err           error // the stream ended or was not understood
}

// setPid notes an inotifywait started or ended.
func (f *feed) setPid(pid string, on bool) {
	if pid == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pids == nil {
		f.pids = map[string]bool{}
	}
	if on {
		f.pids[pid] = true
	} else {
		delete(f.pids, pid)
	}
}

func (r *feedRun) lost(why string) {
	if r.told {
		r.told = false
		r.f.c.cfg.debugf("change feed: lost: %s", why)
		r.f.ev.Lost(why)
	}
	r.f.mu.Lock()
	r.f.watched = 0
	r.f.pids = nil
	r.f.mu.Unlock()
}

// refused is why the feed is off when the command ends before its first
// line: ForceCommand internal-sftp serves SFTP in its place, a login
// shell like /usr/sbin/nologin refuses. Over ssh_command, how the
// command ended follows (ssh's last line: a login it could not make in
// BatchMode).
const refused = "the server runs no commands (exec refused: ForceCommand internal-sftp?)"

// endedHow is howEnded once the command has had a moment to end.
func endedHow(rw io.ReadWriteCloser) string {
	cmd, ok := rw.(interface{ Ended() (string, bool) })
	if !ok {
		return ""
	}
	for range 50 {
		if _, ended := cmd.Ended(); ended {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return howEnded(rw)
}

// run is one run of the script, until it ends or the feed stops.
func (r *feedRun) run() feedEnd {
	c := r.f.c
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	rw, err := c.RunCommand(ctx, feedCommand)
	cancel()
	if errors.Is(err, ErrNoCommands) {
		return feedEnd{why: strings.TrimPrefix(err.Error(), ErrNoCommands.Error()+": "), never: true}
	}
	if err != nil {
		return feedEnd{why: fmt.Sprintf("the server runs no commands (%v)", err), off: true}
	}
	r.rw = rw
	defer rw.Close()
	items := make(chan feedItem, 64)
	done := make(chan struct{})
	defer close(done)
	go readFeed(rw, items, done)
	// "hello" first: the script ignores it; a server running
	// internal-sftp in its place (ForceCommand) reads it as an SFTP
	// length far too large and ends at once.
	if _, err := io.WriteString(rw, "hello\n"); err != nil {
		return feedEnd{why: refused + howEnded(rw), off: true}
	}
	first := time.NewTimer(c.cfg.Timeout)
	defer first.Stop()
	// The first line of the script's: a login shell's own noise before
	// it (a .bashrc that prints) is skipped, up to a few lines.
	for skipped := 0; r.limit == 0; skipped++ {
		select {
		case it := <-items:
			switch {
			case it.err != nil:
				return feedEnd{why: refused + howEnded(rw), off: true}
			case it.line == "F notfound":
				return feedEnd{why: "inotifywait not found on the server", off: true}
			case strings.HasPrefix(it.line, "L "):
				f := strings.Fields(it.line[2:])
				r.limit, r.queued = r.f.maxDirs, 16384 // Linux's defaults
				if len(f) > 0 {
					if n, err := strconv.Atoi(f[0]); err == nil && n > 0 && n < r.limit {
						r.limit = n
					}
				}
				if len(f) > 1 {
					if n, err := strconv.Atoi(f[1]); err == nil && n > 0 {
						r.queued = n
					}
				}
			case it.event || skipped > 100:
				return feedEnd{why: fmt.Sprintf("the server runs no commands (its answer: %q)", clip(it.line)), off: true}
			}
		case <-first.C:
			return feedEnd{why: fmt.Sprintf("the watcher said nothing within %v", c.cfg.Timeout)}
		case <-r.f.stop:
			return feedEnd{why: "client closed"}
		}
	}
	r.f.mu.Lock()
	r.f.limit = r.limit
	r.f.mu.Unlock()
	r.holder = map[string]*feedWatcher{}
	r.vouched = map[string]bool{}
	r.bad = map[string]bool{}
	started := time.Now()
	r.f.setStatus("up")
	end := r.loop(items)
	end.up = time.Since(started)
	return end
}

// loop serves one run: requests out, records in.
func (r *feedRun) loop(items <-chan feedItem) feedEnd {
	var deadline <-chan time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var dead <-chan struct{}
	if r.sess != nil {
		dead = r.sess.dead
	}
	r.dirty = true
	for {
		if r.pending == nil && r.dirty {
			r.dirty = false
			if end, ok := r.next(); !ok {
				return end
			}
			if r.pending != nil {
				if timer != nil {
					timer.Stop()
				}
				timer = time.NewTimer(r.f.c.cfg.Timeout + time.Duration(len(r.pending.dirs))*time.Millisecond)
				deadline = timer.C
			}
		}
		select {
		case <-r.f.stop:
			return feedEnd{why: "client closed"}
		case <-dead:
			return feedEnd{why: "connection lost"}
		case <-r.f.wake:
			r.dirty = true
		case <-deadline:
			if r.pending != nil {
				return feedEnd{why: fmt.Sprintf("a watcher was not established within %v", time.Since(r.pending.start).Round(time.Second))}
			}
		case it := <-items:
			if it.err != nil {
				if r.connectionLost() {
					return feedEnd{why: "connection lost"}
				}
				return feedEnd{why: "the watcher ended (" + it.err.Error() + ")"}
			}
			if end, ok := r.item(it); !ok {
				return end
			}
		}
	}
}

// connectionLost tells, once the script's output has ended, whether the
// SSH connection under it did: a cut link ends the exec channel a moment
// before the connection is known closed (x/crypto drops its channels
// first), and before our session is given up, so the connection itself
// is waited for, briefly.
func (r *feedRun) connectionLost() bool {
	s := r.sess
	if s == nil {
		return false
	}
	if s.isDead() {
		return true
	}
	if s.ssh == nil || r.f.c.cfg.Exec != nil {
		return false
	}
	closed := r.f.connClosed(s)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-closed:
		return true
	case <-s.dead:
		return true
	case <-t.C:
		return false
	}
}

// connClosed is closed once s's SSH connection is; one goroutine a
// session.
func (f *feed) connClosed(s *session) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closedOf != s {
		f.closedOf, f.closed = s, make(chan struct{})
		ch := f.closed
		go func() {
			s.ssh.Wait()
			close(ch)
		}()
	}
	return f.closed
}

// closedConn: s's SSH connection is closed, though s may not be given
// up yet (its next call finds out).
func (f *feed) closedConn(s *session) bool {
	if s.ssh == nil {
		return false
	}
	select {
	case <-f.connClosed(s):
		return true
	default:
		return false
	}
}

// unwanted forgets what was vouched for and is no longer asked, and ends
// watchers none of whose directories is asked for any more.
func (r *feedRun) unwanted(wanted map[string]string) {
	for abs := range r.vouched {
		if _, ok := wanted[abs]; !ok {
			delete(r.vouched, abs)
		}
	}
	keep := r.watchers[:0]
	for _, w := range r.watchers {
		live := false
		for _, d := range w.dirs {
			if _, ok := wanted[d]; ok && r.holder[d] == w {
				live = true
				break
			}
		}
		if !live {
			r.kill(w)
			continue
		}
		keep = append(keep, w)
	}
	r.watchers = keep
}

// wantedAbs maps the absolute paths of the directories asked for to
// their rel; paths that cannot be watched are left out (and counted).
func (r *feedRun) wantedAbs() map[string]string {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	m := make(map[string]string, len(r.f.want))
	skipped := 0
	for rel := range r.f.want {
		abs := r.f.c.abs(rel)
		if r.bad[rel] || strings.Contains(abs, "\n") || len(abs) > feedMaxPath {
			skipped++
			continue
		}
		m[abs] = rel
	}
	r.f.skipped = skipped
	return m
}

// next tells Watching for what is asked and still watched, and starts a
// watcher for what is asked and not watched, if anything, merged with the
// youngest watchers when there are too many.
func (r *feedRun) next() (feedEnd, bool) {
	wanted := r.wantedAbs()
	r.unwanted(wanted)
	var fresh []string
	held := 0
	for abs, rel := range wanted {
		if r.holder[abs] == nil {
			fresh = append(fresh, abs)
			continue
		}
		held++
		if !r.vouched[abs] {
			r.vouch(abs, rel)
		}
	}
	sort.Strings(fresh)
	room := max(r.limit-held, 0)
	over := 0
	if len(fresh) > room {
		over = len(fresh) - room
		fresh = fresh[:room]
	}
	r.f.mu.Lock()
	r.f.over = over
	r.f.mu.Unlock()
	r.count()
	if len(fresh) == 0 {
		return feedEnd{}, true
	}
	w := &feedWatcher{fresh: fresh, start: time.Now()}
	w.dirs = append(w.dirs, fresh...)
	// Merge: the youngest watchers go into the new one while there are
	// too many, or while the youngest is not much bigger than the new
	// batch (so that each directory is merged a few times only). They
	// are ended once the new one is in place, not before.
	for n := len(r.watchers); n > 0; n-- {
		y := r.watchers[n-1]
		if n < feedMaxWatchers && len(y.dirs) > 2*len(w.dirs) {
			break
		}
		for _, d := range y.dirs {
			if _, ok := wanted[d]; ok && r.holder[d] == y {
				w.dirs = append(w.dirs, d)
			}
		}
		w.replaces = append(w.replaces, y)
		r.watchers = r.watchers[:n-1]
	}
	return r.send(w)
}

func (r *feedRun) vouch(abs, rel string) {
	r.vouched[abs] = true
	r.told = true
	r.f.ev.Watching(rel)
}

// send starts watcher w on the server.
func (r *feedRun) send(w *feedWatcher) (feedEnd, bool) {
	r.nextID++
	w.id = r.nextID
	var b strings.Builder
	fmt.Fprintf(&b, "s %d\n", w.id)
	for _, d := range w.dirs {
		b.WriteString(d)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	if _, err := io.WriteString(r.rw, b.String()); err != nil {
		return feedEnd{why: "the watcher ended (" + err.Error() + ")"}, false
	}
	r.pending = w
	return feedEnd{}, true
}

// kill ends watcher w on the server.
func (r *feedRun) kill(w *feedWatcher) {
	if w.spid != "" {
		io.WriteString(r.rw, "k "+w.spid+"\n")
	}
	r.f.setPid(w.pid, false)
	for d, h := range r.holder {
		if h == w {
			delete(r.holder, d)
		}
	}
}

// count updates the number of directories watched.
func (r *feedRun) count() {
	r.f.mu.Lock()
	r.f.watched = len(r.holder)
	r.f.mu.Unlock()
	r.f.setStatus("up")
}

func (r *feedRun) byID(id string) *feedWatcher {
	ws := r.watchers
	if r.pending != nil {
		if strconv.Itoa(r.pending.id) == id {
			return r.pending
		}
		ws = append(ws[:len(ws):len(ws)], r.pending.replaces...)
	}
	for _, w := range ws {
		if strconv.Itoa(w.id) == id {
			return w
		}
	}
	return nil
}

// item handles one record or line.
func (r *feedRun) item(it feedItem) (feedEnd, bool) {
	if it.event {
		return r.event(it)
	}
	l := it.line
	word, rest, _ := strings.Cut(l, " ")
	switch {
	case word == "S" || word == "P":
		id, pid, _ := strings.Cut(rest, " ")
		if w := r.byID(id); w != nil {
			if word == "S" {
				w.spid = pid
			} else {
				w.pid = pid
				r.f.setPid(pid, true)
			}
		}
		return feedEnd{}, true
	case word == "X":
		id, status, _ := strings.Cut(rest, " ")
		w := r.byID(id)
		if w == nil {
			return feedEnd{}, true // one we ended
		}
		if w.spid != "" {
			io.WriteString(r.rw, "f "+w.spid+"\n")
		}
		r.f.setPid(w.pid, false)
		if w == r.pending {
			return r.failed(w, status)
		}
		return feedEnd{why: fmt.Sprintf("the watcher ended (inotifywait exit %s)", status)}, false
	case l == "Setting up watches.":
		return feedEnd{}, true
	case l == "Watches established." && r.pending != nil:
		r.established(r.pending)
		return feedEnd{}, true
	case r.pending != nil && len(r.pending.lines) < 16:
		r.pending.lines = append(r.pending.lines, l)
		return feedEnd{}, true
	}
	return feedEnd{why: fmt.Sprintf("a line not understood: %q", clip(l))}, false
}

// established: the pending watcher's watches are in place; the ones it
// replaces are ended now.
func (r *feedRun) established(w *feedWatcher) {
	r.pending = nil
	for _, old := range w.replaces {
		r.kill(old)
	}
	w.replaces = nil
	for _, d := range w.dirs {
		r.holder[d] = w
	}
	r.watchers = append(r.watchers, w)
	wanted := r.wantedAbs()
	r.count()
	for _, d := range w.fresh {
		if rel, ok := wanted[d]; ok && !r.vouched[d] {
			r.vouch(d, rel)
		}
	}
	w.fresh = nil
	r.dirty = true
}

// failed: the pending watcher ended before its watches were in place.
// A directory it could not watch is named in its stderr: gone (told as
// DirGone and no longer asked for) or refused (never asked again); the
// rest is tried again at once. The limit of watches reached lowers ours.
func (r *feedRun) failed(w *feedWatcher, status string) (feedEnd, bool) {
	r.pending = nil
	for i := len(w.replaces) - 1; i >= 0; i-- {
		r.watchers = append(r.watchers, w.replaces[i]) // still in place
	}
	w.replaces = nil
	wanted := r.wantedAbs()
	for _, l := range w.lines {
		if strings.Contains(l, "upper limit on inotify watches") {
			r.limit = max(len(r.holder), 1)
			r.f.mu.Lock()
			r.f.limit = r.limit
			r.f.mu.Unlock()
			r.dirty = true
			return feedEnd{}, true
		}
		for _, d := range w.dirs {
			if !strings.HasPrefix(l, "Couldn't watch "+d+": ") {
				continue
			}
			rel, ok := wanted[d]
			msg := strings.TrimPrefix(l, "Couldn't watch "+d+": ")
			if !ok {
				// No longer asked for: tried again without it.
			} else if strings.Contains(msg, "No such file") || strings.Contains(msg, "Not a directory") {
				r.f.mu.Lock()
				delete(r.f.want, rel)
				r.f.mu.Unlock()
				r.f.ev.Changed(Change{Dir: rel, Kind: DirGone, IsDir: true})
			} else {
				r.bad[rel] = true
			}
			r.dirty = true
			return feedEnd{}, true
		}
	}
	why := fmt.Sprintf("a watcher failed (inotifywait exit %s)", status)
	if len(w.lines) > 0 {
		why += ": " + clip(w.lines[len(w.lines)-1])
	}
	return feedEnd{why: why}, false
}

// event handles one of inotifywait's records.
func (r *feedRun) event(it feedItem) (feedEnd, bool) {
	abs := strings.TrimRight(it.dir, "/")
	if abs == "" {
		abs = "/"
	}
	var flags []string
	if it.ev != "" {
		flags = strings.Split(it.ev, ",")
	}
	has := func(f string) bool {
		for _, x := range flags {
			if x == f {
				return true
			}
		}
		return false
	}
	if has("Q_OVERFLOW") {
		return feedEnd{why: "overflow"}, false
	}
	now := time.Now()
	if now.Sub(r.lastEvent) > feedBurstGap {
		r.burst = 0
	}
	r.lastEvent = now
	if r.burst++; r.burst >= r.queued {
		return feedEnd{why: fmt.Sprintf("overflow possible: %d events without a pause of %v", r.burst, feedBurstGap)}, false
	}
	if !strings.HasPrefix(it.dir, "/") || strings.Contains(it.name, "/") {
		return feedEnd{why: fmt.Sprintf("a line not understood: %q %q %q", clip(it.dir), clip(it.name), clip(it.ev))}, false
	}
	rel, ok := r.relOf(abs)
	if !ok {
		return feedEnd{why: fmt.Sprintf("an event outside the served directory: %q", clip(abs))}, false
	}
	r.f.mu.Lock()
	wanted := r.f.want[rel]
	r.f.mu.Unlock()
	isDir := has("ISDIR")
	var kind ChangeKind
	switch {
	case has("DELETE_SELF") || has("MOVE_SELF") || has("UNMOUNT"):
		kind = DirGone
		// The watch is gone (or follows the directory elsewhere):
		// asked for again, the path is watched anew.
		delete(r.holder, abs)
		delete(r.vouched, abs)
		if wanted {
			r.f.mu.Lock()
			delete(r.f.want, rel)
			r.f.mu.Unlock()
		}
		r.count()
		if wanted {
			r.f.ev.Changed(Change{Dir: rel, Kind: DirGone, IsDir: true})
		}
		return feedEnd{}, true
	case has("CREATE") || has("DELETE") || has("MOVED_FROM") || has("MOVED_TO"):
		kind = NameChanged
	case has("MODIFY") || has("CLOSE_WRITE"):
		kind = DataChanged
	case has("ATTRIB"):
		kind = AttrChanged
	default:
		return feedEnd{}, true // IGNORED and the like
	}
	if wanted {
		r.f.ev.Changed(Change{Dir: rel, Name: it.name, Kind: kind, IsDir: isDir})
	}
	return feedEnd{}, true
}

// relOf turns a server path back into the client's.
func (r *feedRun) relOf(abs string) (string, bool) {
	root := r.f.c.root
	if abs == root {
		return "", true
	}
	prefix := root
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if !strings.HasPrefix(abs, prefix) {
		return "", false
	}
	return path.Clean(abs[len(prefix):]), true
}

// readFeed parses the script's output into items: a line is its own
// (ended by LF, no NUL); a record is dir NUL name NUL events LF. A field
// longer than feedMaxField ends the stream as not understood.
func readFeed(rd io.Reader, items chan<- feedItem, done <-chan struct{}) {
	br := bufio.NewReaderSize(rd, 64<<10)
	send := func(it feedItem) bool {
		select {
		case items <- it:
			return true
		case <-done:
			return false
		}
	}
	for {
		first, term, err := readField(br, 0, '\n')
		if err != nil {
			send(feedItem{err: err})
			return
		}
		if term == '\n' {
			if !send(feedItem{line: first}) {
				return
			}
			continue
		}
		name, _, err := readField(br, 0, 0)
		if err != nil {
			send(feedItem{err: err})
			return
		}
		ev, term, err := readField(br, '\n', '\n')
		if err == nil && term != '\n' {
			err = errors.New("an event record not understood")
		}
		if err != nil {
			send(feedItem{err: err})
			return
		}
		if !send(feedItem{event: true, dir: first, name: name, ev: ev}) {
			return
		}
	}
}

// readField reads up to the first a or b (NUL or LF), bounded.
func readField(br *bufio.Reader, a, b byte) (string, byte, error) {
	var buf []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			if err == io.EOF {
				return "", 0, errors.New("its output ended")
			}
			return "", 0, err
		}
		if c == a || c == b {
			return string(buf), c, nil
		}
		if len(buf) >= feedMaxField {
			return "", 0, errors.New("a line too long")
		}
		buf = append(buf, c)
	}
}

// clip shortens what a log line quotes.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
