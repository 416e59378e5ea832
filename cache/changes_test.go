package cache

import "testing"

func TestAnAnswerAskedBeforeAChangeIsStale(t *testing.T) {
	c := NewChanges()
	before := c.Begin()
	c.Changed("d/f")
	after := c.Begin()
	if !c.Stale("d/f", before) {
		t.Error("a stat of d/f asked before a write of d/f would be stored")
	}
	if c.Stale("d/f", after) || c.Stale("d/g", before) || c.Stale("d", before) {
		t.Error("an answer asked after the change, or about another path, is refused")
	}
	c.Changed("d")
	if !c.Stale("d/g", before) || !c.Stale("d/g/h", after) {
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
	if len(c.at) != 1 || !c.Stale("b", young) {
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
	if !c.Stale("f", tok) {
		t.Fatal("a stat of a file with writes in flight would be stored")
	}
	if c.Stale("g", tok) {
		t.Fatal("another file is refused")
	}
}
