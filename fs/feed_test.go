package fs

import (
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// feedFS is an FS whose caches time out at once unless the feed vouches
// for them.
func feedFS(t *testing.T) (*FS, feedEvents) {
	t.Helper()
	f := newFS(nil, Options{Caches: CachesFor(time.Millisecond)})
	f.vouchCaches()
	return f, feedEvents{f}
}

func expire() { time.Sleep(5 * time.Millisecond) }

func TestAWatchedDirectorysCachesOutliveTheirTimeoutUntilAnEventOrTheFeedIsLost(t *testing.T) {
	f, ev := feedFS(t)
	f.attrIs("d/early", remote.Attr{Size: 1})
	time.Sleep(time.Millisecond) // the watch comes after that answer
	ev.Watching("d")
	time.Sleep(time.Millisecond)
	f.attrIs("d/f", remote.Attr{Size: 2})
	f.attrIs("e/g", remote.Attr{Size: 3})
	f.listings.Put("d", newListing([]string{"f"}))
	f.listings.Put("e", newListing([]string{"g"}))
	expire()
	if a, ok := f.attrs.Get("d/f"); !ok || a.Size != 2 {
		t.Fatalf("d/f, cached after the watch of d: %v %v", a, ok)
	}
	if _, ok := f.attrs.Get("d/early"); ok {
		t.Fatal("an answer stored before the watch was vouched for")
	}
	if _, ok := f.attrs.Get("e/g"); ok {
		t.Fatal("a name in a directory not watched outlived its timeout")
	}
	if f.knownAbsent("d/nothere", time.Now()) {
		t.Fatal("a listing read before a name was asked about answered it absent: a name made on the server just before its event came would be hidden")
	}
	f.absentName("d/asked").confirmed.Store(time.Now().UnixNano())
	f.absentName("e/asked").confirmed.Store(time.Now().UnixNano())
	expire()
	if !f.confirmedAbsent("d/asked") {
		t.Fatal("a name the server said was absent, after d's watch, was asked again past the timeout")
	}
	if f.confirmedAbsent("e/asked") {
		t.Fatal("an absent name in a directory not watched outlived its timeout")
	}
	if left, _ := f.attrs.Left("d/f"); left != time.Millisecond {
		t.Fatalf("the kernel would be told %v for d/f, not the whole timeout", left)
	}

	// Another client makes a name in d: the listing goes at once.
	ev.Changed(remote.Change{Dir: "d", Name: "nothere", Kind: remote.NameChanged})
	if _, ok := f.listings.Get("d"); ok {
		t.Fatal("d's listing kept after another client changed its names")
	}
	if f.confirmedAbsent("d/asked") {
		t.Fatal("an absent name was still vouched for after another client changed its directory's names")
	}
	// Another client writes d/f.
	ev.Changed(remote.Change{Dir: "d", Name: "f", Kind: remote.DataChanged})
	if _, ok := f.attrs.Get("d/f"); ok {
		t.Fatal("d/f's attributes kept after another client wrote it")
	}

	// Asked again after the events: vouched for again.
	f.attrIs("d/f", remote.Attr{Size: 4})
	expire()
	if _, ok := f.attrs.Get("d/f"); !ok {
		t.Fatal("an answer stored after the last event was not vouched for")
	}
	ev.Lost("overflow")
	if _, ok := f.attrs.Get("d/f"); ok {
		t.Fatal("vouched for after the feed was lost")
	}
}

func TestAnEventAboutOurOwnChangeKeepsTheCacheButOnlyForItsTimeout(t *testing.T) {
	f, ev := feedFS(t)
	ev.Watching("d")
	time.Sleep(time.Millisecond)
	f.touched("d/f") // a write of ours
	f.attrIs("d/f", remote.Attr{Size: 9})
	ev.Changed(remote.Change{Dir: "d", Name: "f", Kind: remote.DataChanged})
	if a, ok := f.attrs.Get("d/f"); !ok || a.Size != 9 {
		t.Fatal("our own write's event dropped what the write established")
	}
	expire()
	if _, ok := f.attrs.Get("d/f"); ok {
		t.Fatal("stored before the event of our own write, and vouched for past its timeout: another client's write at the same moment would hide")
	}
}
