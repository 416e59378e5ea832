package main

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The mount's memory has two parts. Transfer buffers come and go at the
// link's speed and are bounded by the read-ahead and write-behind budget;
// Go's default GC would let them take twice what is live, so a soft limit
// (minMemoryLimit) keeps a mount that copies small. The caches of names
// and attributes are live for as long as they are fresh: listing a
// directory of 100 000 names keeps about 60 MiB. A fixed limit near that
// makes the GC run without pause (a listing of 100 000 names took 9.8 s
// instead of 4, with 60% of the process's CPU in the collector, and rm -r
// of 200 000 names took minutes), so the limit follows the live heap: up
// to largeLiveHeap it is never below twice what the last collection found
// live, which is the default GC's own target (GOGC=100); past it, the
// headroom is a third of the live heap, at least largeHeadroom: walking a
// directory of a million names keeps some 120 MB live, and the default's
// 120 MB more would double the process. A GOMEMLIMIT set by the user is
// left alone.
const minMemoryLimit = 80 << 20

// followLiveHeap sets the soft limit and keeps it above the live heap
// (memoryLimitFor), looking every interval; the returned function stops it.
func followLiveHeap(interval time.Duration) func() {
	debug.SetMemoryLimit(minMemoryLimit)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		set := int64(minMemoryLimit)
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				continue // not offered by this runtime: the fixed limit stays
			}
			if want := memoryLimitFor(sample[0].Value.Uint64()); want != set {
				debug.SetMemoryLimit(want)
				set = want
			}
		}
	}()
	return func() { close(done) }
}

// largeLiveHeap: past it, the collector's headroom is a third of the live
// heap, at least largeHeadroom.
const (
	largeLiveHeap = 64 << 20
	largeHeadroom = 40 << 20
)

// memoryLimitFor is the soft limit for a live heap of live bytes, rounded
// up to 16 MiB so that it does not change at every look.
func memoryLimitFor(live uint64) int64 {
	headroom := live
	if live > largeLiveHeap {
		headroom = max(live/3, largeHeadroom)
	}
	want := int64(live+headroom+(16<<20)-1) &^ (16<<20 - 1)
	return max(want, minMemoryLimit)
}
