package cache

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestMap(ttl time.Duration) (*Map[int], *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	m := New[int](ttl)
	m.now = clk.now
	m.cleaned = clk.t
	return m, clk
}

func TestEntryIsServedUntilItsTimeoutThenForgotten(t *testing.T) {
	m, clk := newTestMap(10 * time.Second)
	m.Put("a/b", 7)
	clk.t = clk.t.Add(9 * time.Second)
	if v, ok := m.Get("a/b"); !ok || v != 7 {
		t.Fatalf("before timeout: got %v,%v want 7,true", v, ok)
	}
	clk.t = clk.t.Add(time.Second)
	if v, ok := m.Get("a/b"); ok {
		t.Fatalf("at timeout: got %v, want miss", v)
	}
	if m.Len() != 0 {
		t.Fatalf("expired entry still held: len %d", m.Len())
	}
}

func TestPutReplacesAndRestartsTimeout(t *testing.T) {
	m, clk := newTestMap(10 * time.Second)
	m.Put("f", 1)
	clk.t = clk.t.Add(8 * time.Second)
	m.Put("f", 2)
	clk.t = clk.t.Add(8 * time.Second)
	if v, ok := m.Get("f"); !ok || v != 2 {
		t.Fatalf("got %v,%v want 2,true", v, ok)
	}
}

func TestZeroTimeoutCachesNothing(t *testing.T) {
	m, _ := newTestMap(0)
	m.Put("f", 1)
	if _, ok := m.Get("f"); ok {
		t.Fatal("cache with zero timeout served an entry")
	}
}

func TestDeleteTreeForgetsDirectoryAndDescendantsOnly(t *testing.T) {
	m, _ := newTestMap(time.Minute)
	for _, k := range []string{"d", "d/x", "d/sub/y", "dx", "other/d"} {
		m.Put(k, 1)
	}
	m.DeleteTree("d")
	for k, want := range map[string]bool{"d": false, "d/x": false, "d/sub/y": false, "dx": true, "other/d": true} {
		if _, ok := m.Get(k); ok != want {
			t.Errorf("%q: present=%v, want %v", k, ok, want)
		}
	}
}

func TestDeleteTreeOfRootForgetsEverything(t *testing.T) {
	m, _ := newTestMap(time.Minute)
	m.Put("", 1)
	m.Put("a", 1)
	m.DeleteTree("")
	if m.Len() != 0 {
		t.Fatalf("len %d after DeleteTree(\"\")", m.Len())
	}
}

func TestFullCacheEvictsExpiredBeforeLive(t *testing.T) {
	m, clk := newTestMap(10 * time.Second)
	m.limits.MaxEntries = 4
	m.Put("old1", 1)
	m.Put("old2", 1)
	clk.t = clk.t.Add(5 * time.Second)
	m.Put("new1", 1)
	m.Put("new2", 1)
	clk.t = clk.t.Add(6 * time.Second) // old* expired, new* live
	m.Put("new3", 1)
	if _, ok := m.Get("new1"); !ok {
		t.Fatal("live entry evicted while expired ones could go")
	}
	if m.Len() != 3 {
		t.Fatalf("len %d, want 3 (new1..3)", m.Len())
	}
}

func TestFullCacheOfLiveEntriesStaysBounded(t *testing.T) {
	m, _ := newTestMap(time.Minute)
	m.limits.MaxEntries = 100
	for i := 0; i < 1000; i++ {
		m.Put(fmt.Sprint(i), i)
		if m.Len() > 100 {
			t.Fatalf("len %d exceeds bound 100", m.Len())
		}
	}
	if v, ok := m.Get("999"); !ok || v != 999 {
		t.Fatal("most recent entry missing")
	}
}

// sshfs's dcache_clean_interval: expired entries do not stay in memory
// past it, full or not; dcache_min_clean_interval spaces the cleaning a
// full cache triggers, and the bound holds meanwhile.
func TestExpiredEntriesAreDroppedEveryCleanIntervalAndAFullCacheNoMoreOftenThanTheMinimum(t *testing.T) {
	m, clk := newTestMap(time.Second)
	m.limits = Limits{MaxEntries: 3, CleanInterval: 10 * time.Second, MinCleanInterval: 4 * time.Second}
	m.Put("a", 1)
	m.Put("b", 1)
	clk.t = clk.t.Add(2 * time.Second) // a and b expired; 2 s since cleaning
	m.Put("c", 1)
	if m.Len() != 3 {
		t.Fatalf("len %d: cleaned before the clean interval", m.Len())
	}
	clk.t = clk.t.Add(time.Second) // full, but 3 s since cleaning: too soon, so all go
	m.Put("d", 1)
	if m.Len() != 1 {
		t.Fatalf("len %d: a full cache was not bounded while cleaning waited for its minimum interval", m.Len())
	}
	clk.t = clk.t.Add(2 * time.Second) // 5 s since cleaning: d expired, and the cache full again
	m.Put("e", 1)
	m.Put("f", 1)
	m.Put("g", 1) // full: the expired d goes, the live e and f stay
	if _, ok := m.Get("e"); !ok || m.Len() != 3 {
		t.Fatalf("len %d: a full cache past the minimum interval did not drop only the expired entries", m.Len())
	}
	clk.t = clk.t.Add(11 * time.Second) // past the clean interval: everything expired
	m.Put("h", 1)
	if m.Len() != 1 {
		t.Fatalf("len %d: expired entries stayed past the clean interval", m.Len())
	}
}

func TestConcurrentUseIsSafe(t *testing.T) {
	m := New[int](time.Minute)
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 1000; i++ {
				k := fmt.Sprintf("d%d/%d", g, i%10)
				m.Put(k, i)
				m.Get(k)
				if i%100 == 0 {
					m.DeleteTree(fmt.Sprintf("d%d", g))
				}
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

// DeleteTree forgets a path and everything below it, also where the
// paths between are not held, and keeps its count of what is below each
// path right through puts, deletes, expiry and clears: checked against a
// plain map over random operations.
func TestDeleteTreeMatchesAPlainMap(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewLimited[int](time.Minute, Limits{MaxEntries: 40, CleanInterval: time.Hour, MinCleanInterval: time.Hour})
	m.now = func() time.Time { return now }
	model := map[string]bool{}
	paths := []string{"", "a", "a/b", "a/b/c", "a/bc", "ab", "a/b/c/d", "x/y", "x/y/z", "x"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		p := paths[rng.Intn(len(paths))]
		switch rng.Intn(3) {
		case 0:
			m.Put(p, i)
			model[p] = true
		case 1:
			m.Delete(p)
			delete(model, p)
		case 2:
			m.DeleteTree(p)
			for k := range model {
				if p == "" || k == p || strings.HasPrefix(k, p+"/") {
					delete(model, k)
				}
			}
		}
		for _, k := range paths {
			if _, ok := m.Get(k); ok != model[k] {
				t.Fatalf("after op %d on %q: %q held %v, want %v", i, p, k, ok, model[k])
			}
		}
		below := map[string]int{}
		for k := range model {
			for dir := k; dir != ""; {
				if j := strings.LastIndexByte(dir, '/'); j >= 0 {
					dir = dir[:j]
				} else {
					dir = ""
				}
				below[dir]++
			}
		}
		if fmt.Sprint(below) != fmt.Sprint(m.below) {
			t.Fatalf("after op %d on %q: counts %v, want %v", i, p, m.below, below)
		}
	}
}

func TestAnEntryVouchedForOutlivesItsTimeoutUntilTheVouchEnds(t *testing.T) {
	m, clk := newTestMap(10 * time.Second)
	watchedSince := clk.t.Add(-time.Second) // before the store
	var storedSeen time.Time
	m.Vouch(func(key string, stored time.Time) bool {
		storedSeen = stored
		return key == "d/f" && stored.After(watchedSince)
	})
	put := clk.t
	m.Put("d/f", 1)
	m.Put("e/g", 2)
	clk.t = clk.t.Add(time.Hour)
	if v, ok := m.Get("d/f"); !ok || v != 1 {
		t.Fatalf("vouched for, an hour on: got %v,%v want 1,true", v, ok)
	}
	if !storedSeen.Equal(put) {
		t.Fatalf("vouch was told stored=%v, the store was at %v", storedSeen, put)
	}
	if left, ok := m.Left("d/f"); !ok || left != 10*time.Second {
		t.Fatalf("vouched for: left %v,%v, want the whole timeout", left, ok)
	}
	if at, ok := m.Stored("d/f"); !ok || !at.Equal(put) {
		t.Fatalf("Stored: %v,%v want %v", at, ok, put)
	}
	if _, ok := m.Get("e/g"); ok {
		t.Fatal("an entry not vouched for outlived its timeout")
	}
	m.Put("x", 3) // a store cleans (CleanInterval passed): the vouched entry stays
	if _, ok := m.Get("d/f"); !ok {
		t.Fatal("the clean dropped an entry vouched for")
	}
	watchedSince = clk.t // the feed was lost and watches again: the old store is not vouched for
	if _, ok := m.Get("d/f"); ok {
		t.Fatal("an expired entry kept once its vouch ended")
	}
}
