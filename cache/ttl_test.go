package cache

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestMap(ttl time.Duration) (*Map[int], *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	m := New[int](ttl)
	m.now = clk.now
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
	m.maxEntries = 4
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
	m.maxEntries = 100
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
