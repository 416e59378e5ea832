package cache

import (
	"testing"
	"time"
)

// stale reports whether Keep refuses an answer about path asked since t.
func (c *Changes) stale(path string, t Token) bool { return !c.Keep(t, func() {}, path) }

func TestAnAnswerAskedBeforeAChangeIsStale(t *testing.T) {
	c := NewChanges()
	before := c.Begin()
	c.Changed("d/f")
	after := c.Begin()
	if !c.stale("d/f", before) {
		t.Error("a stat of d/f asked before a write of d/f would be stored")
	}
	if c.stale("d/f", after) || c.stale("d/g", before) || c.stale("d", before) {
		t.Error("an answer asked after the change, or about another path, is refused")
	}
	c.Changed("d")
	if !c.stale("d/g", before) || !c.stale("d/g/h", after) {
		t.Error("a change of a directory (a rename, names made in it) does not cover what is below it")
	}
	c.End(before)
	c.End(after)
	if len(c.at) != 0 {
		t.Errorf("with no fetch on its way, %d changes are still remembered", len(c.at))
	}
}

func TestChangesAreForgottenOnceNoOlderFetchIsOnItsWay(t *testing.T) {
	c := NewChanges()
	old := c.Begin()
	for i := 0; i < 100; i++ {
		c.Changed("a")
	}
	young := c.Begin()
	c.Changed("b")
	c.End(old)
	if len(c.at) != 1 || !c.stale("b", young) {
		t.Fatalf("after the oldest fetch ended: %v remembered, want only b", c.at)
	}
	c.End(young)
	if len(c.at) != 0 {
		t.Fatalf("%v remembered with no fetch on its way", c.at)
	}
}

func TestAPathWithWritesOnTheirWayTakesNoFetchedAnswer(t *testing.T) {
	c := NewChanges()
	busy := map[string]bool{"f": true}
	c.Busy = func(p string) bool { return busy[p] }
	tok := c.Begin()
	defer c.End(tok)
	if !c.stale("f", tok) {
		t.Fatal("a stat of a file with writes in flight would be stored")
	}
	if c.stale("g", tok) {
		t.Fatal("another file is refused")
	}
}

// The check and the store are one step: a write queued just after the
// check (it looks for a cached size to raise, finds none, and goes on)
// must not be followed by the store of a size it has passed.
func TestAChangeMadeBetweenTheCheckAndTheStoreRefusesTheStore(t *testing.T) {
	c := NewChanges()
	tok := c.Begin()
	defer c.End(tok)
	c.Busy = func(p string) bool {
		c.Changed(p) // the write is queued and recorded right after the check
		return false
	}
	stored := false
	if c.Keep(tok, func() { stored = true }, "f") || stored {
		t.Fatal("an answer was stored after a change recorded once the check had passed")
	}
}

// A change recorded while a store is being made waits for it, and then
// drops what was stored (Dropped), so that its fix-up sees the store.
func TestAChangeRecordedDuringAStoreComesAfterIt(t *testing.T) {
	c := NewChanges()
	var events []string
	c.Dropped = func(p string) { events = append(events, "dropped "+p) }
	tok := c.Begin()
	defer c.End(tok)
	changed := make(chan struct{})
	c.Keep(tok, func() {
		go func() { c.Changed("f"); close(changed) }()
		select {
		case <-changed:
			t.Error("a change was recorded in the middle of a store")
		case <-time.After(50 * time.Millisecond):
		}
		events = append(events, "stored")
	}, "f")
	<-changed
	if len(events) != 2 || events[0] != "stored" || events[1] != "dropped f" {
		t.Fatalf("events %q, want the store and then the change dropping it", events)
	}
}
