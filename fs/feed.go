package fs

import (
	"context"
	"os"
	"path"
	"sync"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// The server's change feed (remote/feed.go: inotifywait on the server,
// over an exec channel), as the mount uses it. While the feed is up and
// watches a directory, what is cached of it (its listing, its names'
// attributes, link counts and symlink targets, the names it lacks, the
// kernel's pages of its files) is trusted past its timeout: nothing
// changes there without the feed saying so, and when it says so the
// caches are dropped, ours and the kernel's, as soon as the event is here
// (one round trip after the change at most).
//
// What is vouched for: an answer stored after the watch of its directory
// was in place (Watching), with no event about its path or directory
// since. So an answer asked before the watch, or before the last event,
// keeps the timed rules of docs/caches.md; so does everything, at once,
// when the feed is lost (Lost: the watcher died, its queue overflowed, the
// connection went).
//
// The mount's own changes make events too. An event about a path this
// mount changed within ownWindow is taken for its own: nothing is
// dropped, but what was cached of the path before the event is no longer
// vouched for (the timed rules again), so another client's change in
// the same moment shows no later than without the feed. Any other event
// drops what is cached of the path, and tells the kernel.
//
// So that what this mount made (a clone, an untar, a build's outputs) is
// vouched for too, and a git status 25 s after a clone asks nothing, a
// directory with events of ours is listed again in the background once
// they have been quiet for relistQuiet: the listing and its names'
// attributes, stored after the events, hold while the feed is up.

// A close after writes or a rename does not wait for our own feed's
// echo of it: that wait (up to 100 ms, for another mount to hear of the
// change at about the same moment) cost an untar 80 ms a file at 0 ms
// round trip, the echo of a new file's writes often not coming before
// the bound. A second mount's read at once is a race it usually wins
// (docs/caches.md).

// ownWindow is how long after a change of ours an event about its path
// is taken for ours: the event comes one round trip after the change,
// or later when writes queue behind a slow link.
const ownWindow = 5 * time.Second

// relistQuiet is how long a directory's own events must have stopped
// before it is listed again; relistParallel listings at once, at most.
const (
	relistQuiet    = time.Second
	relistParallel = 4
)

// feedState is what the feed vouches for.
type feedState struct {
	mu      sync.Mutex           // guards the fields below; innermost: nothing is called under it
	up      bool                 // the feed is up (a Watching came since the last Lost)
	why     string               // why it is not up, or "" once it was
	watched map[string]time.Time // directories watched, and since when
	events  map[string]time.Time // paths an event was about, and when it came; pruned after the longest timeout
	ours    map[string]time.Time // paths this mount changed, and when; pruned after ownWindow
	pruned  time.Time
	relist  map[string]time.Time // directories with events of ours, and the last one's time
	looping bool                 // relistLoop runs
	keep    time.Duration        // how long events are remembered: the longest cache timeout
}

func (s *feedState) init(c Caches) {
	s.watched, s.events, s.ours, s.relist = map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}, map[string]time.Time{}
	s.keep = max(c.Attr, c.Dir, c.Link, c.Negative, c.Open) + time.Second
}

// vouched reports whether an answer about rel stored at stored still
// holds: dir is the watched directory it depends on (rel's parent, or
// rel itself for its listing).
func (s *feedState) vouched(dir, rel string, stored time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		return false
	}
	since, ok := s.watched[dir]
	if !ok || !since.Before(stored) {
		return false
	}
	if at, ok := s.events[rel]; ok && !at.Before(stored) {
		return false
	}
	if at, ok := s.events[dir]; ok && dir != rel && !at.Before(stored) {
		return false
	}
	return true
}

// ourChange records a change of ours to rel (cache.Changes.Dropped).
func (s *feedState) ourChange(rel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.ours[rel] = now
	s.pruneLocked(now)
}

// event records an event about rel and reports whether it is ours.
func (s *feedState) event(rel string, now time.Time) (ours bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[rel] = now
	at, ok := s.ours[rel]
	return ok && now.Sub(at) < ownWindow
}

func (s *feedState) pruneLocked(now time.Time) {
	if now.Sub(s.pruned) < time.Second {
		return
	}
	s.pruned = now
	for p, at := range s.ours {
		if now.Sub(at) >= ownWindow {
			delete(s.ours, p)
		}
	}
	for p, at := range s.events {
		if now.Sub(at) >= s.keep {
			delete(s.events, p)
		}
	}
}

// startFeed makes the caches ask the feed, and starts it.
func (f *FS) startFeed() {
	f.vouchCaches()
	// Ours from the moment it is sent: its event may come before the
	// answer, and before the verbs of known.go record it.
	f.remote.SendingChanges(f.feed.ourChange)
	f.remote.StartFeed(feedEvents{f})
	f.remote.Watch("")
}

// vouchCaches makes every cache of what the server said ask the feed
// before it lets an entry expire.
func (f *FS) vouchCaches() {
	f.attrs.m.VouchValue(f.vouchedAttr)
	f.targets.Vouch(f.vouchedByParent)
	f.links.Vouch(f.vouchedByParent)
	f.listings.Vouch(func(dir string, stored time.Time) bool { return f.feed.vouched(dir, dir, stored) })
}

// vouchedByParent vouches for what is cached of rel while its directory
// is watched and quiet.
func (f *FS) vouchedByParent(rel string, stored time.Time) bool {
	return f.feed.vouched(parentOf(rel), rel, stored)
}

// absentVouched reports whether the feed vouches for the server's word,
// given at confirmed (Unix nanoseconds; 0: none), that rel is absent: rel's
// directory watched since before, no event about rel or the directory
// since. Only a name the server was asked about: a listing read before a
// name was made would hide it until its event came (sshfs's suite makes
// a name on the server and opens it through the mount at once).
func (f *FS) absentVouched(rel string, confirmed int64) bool {
	return confirmed != 0 && f.feed.vouched(parentOf(rel), rel, time.Unix(0, confirmed))
}

// vouchedAttr is vouchedByParent for rel's attributes p, but never for
// a file with more than one link: written through a name in another
// directory, it makes its event there, which may not be watched. (Called
// under attrs' lock: links is another Map, whose own vouch takes no lock
// of attrs'.)
func (f *FS) vouchedAttr(rel string, p packedAttr, stored time.Time) bool {
	if !f.vouchedByParent(rel, stored) {
		return false
	}
	if os.FileMode(p.mode).IsDir() {
		return true
	}
	k, _ := f.links.Get(rel) // 0: no listing told
	return max(k, p.nlink) <= 1
}

// watch asks the feed to watch dir, a directory the kernel holds.
func (f *FS) watch(dir string) { f.remote.Watch(dir) }

// FeedStatus is the feed's mode in one line, for `sftpmount status`.
func (f *FS) FeedStatus() string { return f.remote.FeedStatus() }

// feedEvents is the mount as the feed tells it (remote.FeedEvents).
type feedEvents struct{ f *FS }

func (e feedEvents) Watching(dir string) {
	s := &e.f.feed
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up, s.why = true, ""
	s.watched[dir] = time.Now()
}

func (e feedEvents) Lost(why string) {
	s := &e.f.feed
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up, s.why = false, why
	clear(s.watched)
	clear(s.relist)
}

// relistLater lists dir again once its events of ours are quiet.
func (f *FS) relistLater(dir string, now time.Time) {
	s := &f.feed
	s.mu.Lock()
	s.relist[dir] = now
	start := !s.looping
	s.looping = true
	s.mu.Unlock()
	if start {
		f.bg.Go(f.relistLoop)
	}
}

// relistLoop lists again the directories whose events of ours have been
// quiet for relistQuiet, until none is left.
func (f *FS) relistLoop(ctx context.Context) {
	slots := make(chan struct{}, relistParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(relistQuiet / 2):
		}
		s := &f.feed
		s.mu.Lock()
		var due []string
		now := time.Now()
		for dir, at := range s.relist {
			if now.Sub(at) >= relistQuiet {
				due = append(due, dir)
				delete(s.relist, dir)
			}
		}
		if len(s.relist) == 0 && len(due) == 0 {
			s.looping = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, dir := range due {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				f.relistQuietly(ctx, dir)
			}()
		}
	}
}

// relistQuietly lists dir on the server and keeps what a change of ours
// since has not made stale, as a listing for a readdir would; a
// directory whose listing is not kept, or no longer the kernel's, is left.
func (f *FS) relistQuietly(ctx context.Context, dir string) {
	if f.nodeAt(dir) == nil {
		return
	}
	if _, listed := f.listings.Get(dir); !listed {
		return
	}
	tok := f.changed.Begin()
	defer f.changed.End(tok)
	ctx, cancel := context.WithTimeout(ctx, max(f.opts.Timeout, time.Second))
	defer cancel()
	entries, err := f.remote.ReadDir(ctx, dir)
	if err != nil {
		return
	}
	f.remember(dir, entries, tok)
}

func (e feedEvents) Changed(c remote.Change) {
	f := e.f
	rel := cleanRel(path.Join(c.Dir, c.Name))
	now := time.Now()
	ours := f.feed.event(rel, now)
	if c.Kind == remote.NameChanged {
		f.feed.event(c.Dir, now) // its listing, and its mtime
	}
	if !ours && (f.busy(rel) || (c.Kind == remote.DataChanged || c.Kind == remote.AttrChanged) && f.writing(rel)) {
		// Written through this mount right now (writes queued, or a
		// writer open: its writes may be sent again after a lost
		// connection, their events more than ownWindow after they were
		// first sent): its event is ours, whatever the window says;
		// what the writer knows is better than what the server has
		// yet. (Two machines writing one file at once over SFTP is no
		// safer with the feed: their writes interleave as they land.)
		ours = true
	}
	if ours {
		f.relistLater(c.Dir, now)
		return
	}
	// What a bulk answer told of it (inode number, change time) is the
	// old file's.
	if c.Kind == remote.NameChanged || c.Kind == remote.DirGone {
		f.tree.told.DeleteTree(rel)
		f.tree.shown.DeleteTree(rel)
	} else {
		f.tree.told.Delete(rel)
		f.tree.shown.Delete(rel)
	}
	// An answer asked before the change and stored after it would be
	// vouched for: refused, as after a change of ours.
	f.changed.ChangedElsewhere(rel, c.Dir)
	if f.opts.Debug != nil {
		f.opts.Debug.Printf("change feed: %s %q: another client's", c.Kind, "/"+rel)
	}
	var notices []func()
	switch c.Kind {
	case remote.DirGone:
		f.forget(rel)
		f.listings.DeleteTree(rel)
		f.absent.DeleteTree(rel)
		f.links.DeleteTree(rel)
		f.prefetched.DeleteTree(rel)
		if rel != "" {
			if parent := f.nodeAt(parentOf(rel)); parent != nil {
				name := path.Base(rel)
				notices = append(notices, func() { parent.NotifyEntry(name) })
			}
		}
	case remote.NameChanged:
		f.forget(rel)
		f.absent.DeleteTree(rel)
		f.links.DeleteTree(rel)
		f.listings.Delete(c.Dir)
		f.listings.DeleteTree(rel)
		f.prefetched.Delete(c.Dir)
		f.attrs.Delete(c.Dir) // its mtime, its link count
		if dir := f.nodeAt(c.Dir); dir != nil {
			name := c.Name
			notices = append(notices, func() {
				dir.NotifyEntry(name)
				dir.NotifyContent(-1, 0)
			})
		}
		if n := f.nodeAt(rel); n != nil {
			// Replaced (a rename over it) or made again: the node at
			// the name may be kept by the next lookup, its pages not.
			n.dropPages()
			notices = append(notices, func() { n.NotifyContent(0, 0) })
		}
	case remote.DataChanged:
		f.attrs.Delete(rel)
		f.prefetched.Delete(c.Dir)
		if n := f.nodeAt(rel); n != nil {
			n.dropPages()
			notices = append(notices, func() { n.NotifyContent(0, 0) })
		}
	case remote.AttrChanged:
		f.attrs.Delete(rel)
		f.prefetched.Delete(c.Dir)
		f.newFiles.Delete(rel)
		if n := f.nodeAt(rel); n != nil {
			notices = append(notices, func() { n.NotifyContent(-1, 0) })
		}
	}
	// The kernel's caches too, before the next event is read: a
	// program told by another machine that the change is done may look
	// at once, and the kernel answers a stat from its own cache. A
	// notice waits for the kernel's lock of the directory, which a
	// request of ours in it may hold for as long as its call to the
	// server takes: so the wait is bounded.
	var sent []<-chan struct{}
	for _, notice := range notices {
		sent = append(sent, f.notify.send(notice))
	}
	limit := time.NewTimer(noticeWait)
	defer limit.Stop()
	for _, done := range sent {
		select {
		case <-done:
		case <-limit.C:
			return
		}
	}
}

// noticeWait bounds how long an event waits for the kernel to take its
// notices (see Changed).
const noticeWait = 50 * time.Millisecond

// writing reports whether a node at rel has a writer open.
func (f *FS) writing(rel string) bool {
	n := f.nodeAt(rel)
	return n != nil && n.hasWriters()
}
