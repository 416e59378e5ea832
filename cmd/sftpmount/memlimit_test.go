package main

import "testing"

// The limit leaves the collector twice the live heap up to 64 MiB, and
// a third of the live heap more (40 MiB at least) past it.
func TestTheMemoryLimitLeavesTheCollectorHeadroomAboveTheLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, minMemoryLimit},
		{30 << 20, minMemoryLimit},
		{40 << 20, minMemoryLimit},
		{41 << 20, 96 << 20},
		{60 << 20, 128 << 20},
		{64 << 20, 128 << 20},
		{65 << 20, 112 << 20},
		{120 << 20, 160 << 20},
		{160 << 20, 224 << 20},
		{600 << 20, 800 << 20},
	} {
		got := memoryLimitFor(c.live)
		if got != c.want {
			t.Errorf("live %d MiB: limit %d MiB, want %d MiB", c.live>>20, got>>20, c.want>>20)
		}
		if floor := c.live + min(c.live, max(c.live/3, largeHeadroom)); got < int64(floor) {
			t.Errorf("live %d MiB: limit %d MiB leaves less than the headroom", c.live>>20, got>>20)
		}
	}
}
