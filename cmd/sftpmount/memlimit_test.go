package main

import "testing"

func TestTheMemoryLimitIsNeverBelowTwiceTheLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, minMemoryLimit},
		{30 << 20, minMemoryLimit},
		{40 << 20, minMemoryLimit},
		{41 << 20, 96 << 20},
		{60 << 20, 128 << 20},
		{600 << 20, 1200 << 20},
	} {
		got := memoryLimitFor(c.live)
		if got != c.want {
			t.Errorf("live %d MiB: limit %d MiB, want %d MiB", c.live>>20, got>>20, c.want>>20)
		}
		if got < int64(2*c.live) {
			t.Errorf("live %d MiB: limit %d MiB is below twice the live heap", c.live>>20, got>>20)
		}
	}
}
