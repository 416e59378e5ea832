package cache

import (
	"strings"
	"sync"
)

// Changes is the one rule for every answer the server gives that would
// be cached: an answer to a question asked before this mount changed the
// path (or a directory above it) is not stored, since the server may have
// answered before the change reached it, and what the change established
// is better. A listing, a prefetch, a lookup or an fstat on its way while
// a write, truncate, setattr, create, rename or unlink is made through
// the mount therefore never replaces what the writer knows.
//
// A fetch takes a Token with Begin before asking and gives it back with
// End, and stores the answer through Keep, which refuses it if the path
// changed since. Changes are remembered only while a fetch older than
// them is on its way, so the record stays as small as the number of
// changes made during the longest fetch.
type Changes struct {
	// Busy, when set, reports paths whose changes are still on their
	// way (writes in flight or held): nothing fetched about them is
	// stored until they have landed (and Changed is called then).
	Busy func(path string) bool
	// Dropped, when set, is called for each changed path under the
	// record's lock, to drop what is cached about it: a store (Keep)
	// then either comes before and is dropped, or after and is stale.
	Dropped func(path string)

	mu     sync.Mutex        // guards the fields below
	seq    uint64            // counts changes
	at     map[string]uint64 // path -> seq of its latest change
	order  []change          // the changes in at, oldest first (a path changed again is in it twice)
	active map[uint64]int    // tokens in use -> how many fetches hold each
}

type change struct {
	seq  uint64
	path string
}

// Token marks when a fetch began.
type Token struct{ seq uint64 }

// NewChanges returns an empty record.
func NewChanges() *Changes {
	return &Changes{at: map[string]uint64{}, active: map[uint64]int{}}
}

// Begin is called before a question whose answer may be stored.
func (c *Changes) Begin() Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active[c.seq]++
	return Token{c.seq}
}

// End is called once the answer is stored or dropped.
func (c *Changes) End(t Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[t.seq]--; c.active[t.seq] <= 0 {
		delete(c.active, t.seq)
	}
	c.pruneLocked()
}

// pruneLocked forgets changes no fetch on its way began before, oldest
// first: a long fetch (a listing of a million names) while rm -r runs
// must not make every End scan every change.
func (c *Changes) pruneLocked() {
	if len(c.active) == 0 {
		clear(c.at)
		c.order = c.order[:0]
		return
	}
	oldest := c.seq
	for s := range c.active {
		oldest = min(oldest, s)
	}
	i := 0
	for ; i < len(c.order) && c.order[i].seq <= oldest; i++ {
		if ch := c.order[i]; c.at[ch.path] == ch.seq {
			delete(c.at, ch.path)
		}
	}
	c.order = c.order[i:]
}

// Changed records a change of path made through the mount (for a
// directory: of its names, or of everything below it when it moves).
//
// A writer calls it once its change is in effect (sent, or visible to
// Busy) and before it fixes up what is cached: an answer stored by Keep
// meanwhile is then found by the fix-up, or refused.
func (c *Changes) Changed(paths ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		if c.Dropped != nil {
			c.Dropped(p)
		}
	}
	if len(c.active) == 0 {
		c.seq++ // no fetch can be older: nothing to remember
		return
	}
	for _, p := range paths {
		c.seq++
		c.at[p] = c.seq
		c.order = append(c.order, change{c.seq, p})
	}
}

// ChangedElsewhere records a change of paths made by another client, as
// the server's change feed tells it: an answer to a question asked
// before it is not stored, as with Changed, but nothing is dropped
// (Dropped is not called: it is for changes of ours).
func (c *Changes) ChangedElsewhere(paths ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.active) == 0 {
		c.seq++
		return
	}
	for _, p := range paths {
		c.seq++
		c.at[p] = c.seq
		c.order = append(c.order, change{c.seq, p})
	}
}

// Keep runs store, which caches an answer about paths fetched since t
// began, unless one of them, or a directory above it, changed after t began, or has changes on their way (Busy). It reports whether
// it stored. store runs under the record's lock, so that no change is
// recorded between the check and the store (see Changed): a check that
// passes and a store made a moment later, after a write queued and looked
// for our cached size, would otherwise put a size the writes have passed
// back into the cache.
func (c *Changes) Keep(t Token, store func(), paths ...string) bool {
	if c.Busy != nil {
		for _, p := range paths {
			if c.Busy(p) {
				return false
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		if c.changedSinceLocked(p, t) {
			return false
		}
	}
	store()
	return true
}

// changedSinceLocked reports whether path or a directory above it changed
// after t began.
func (c *Changes) changedSinceLocked(path string, t Token) bool {
	for p := path; ; {
		if c.at[p] > t.seq {
			return true
		}
		if p == "" {
			return false
		}
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			p = p[:i]
		} else {
			p = ""
		}
	}
}
