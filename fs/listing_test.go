package fs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

func testFS() *FS { return newFS(nil, Options{Caches: CachesFor(time.Minute)}) }

func TestListingAnswersAbsentNamesAndFollowsOurChanges(t *testing.T) {
	f := testFS()
	if f.knownAbsent("d/x") {
		t.Fatal("absent without any listing")
	}
	f.listings.Put("d", newListing([]string{"a"}))
	if !f.knownAbsent("d/x") || f.knownAbsent("d/a") {
		t.Fatal("listing not consulted")
	}
	f.settled("d/x", nil, true)
	if f.knownAbsent("d/x") {
		t.Fatal("a name we created is still reported absent")
	}
	f.settled("d/a", nil, false)
	if !f.knownAbsent("d/a") {
		t.Fatal("a name we removed is still reported present")
	}
	f.settled("d/y", errKnownAbsent, true)
	if f.knownAbsent("d/z") {
		t.Fatal("after a failed change the listing must not be trusted")
	}
}

func TestRootListingUsesTheEmptyPath(t *testing.T) {
	f := testFS()
	f.listings.Put("", newListing([]string{"top"}))
	if !f.knownAbsent("other") || f.knownAbsent("top") {
		t.Fatal("root listing not found under \"\"")
	}
}

func TestPrefetchedListingIsUsedOnceAndDroppedByChanges(t *testing.T) {
	f := testFS()
	f.prefetched.Put("d", []remote.DirEntry{{Name: "a"}})
	if _, ok := f.takePrefetched(context.Background(), "d"); !ok {
		t.Fatal("prefetched listing missing")
	}
	if _, ok := f.takePrefetched(context.Background(), "d"); ok {
		t.Fatal("prefetched listing served twice")
	}
	f.prefetched.Put("d", nil)
	f.settled("d/new", nil, true)
	if _, ok := f.takePrefetched(context.Background(), "d"); ok {
		t.Fatal("prefetched listing survived a change to its directory")
	}
}

func TestAWalkJoinsAListingAlreadyOnItsWayInsteadOfAskingAgain(t *testing.T) {
	f := testFS()
	onItsWay := make(chan struct{})
	f.prefetching = map[string]chan struct{}{"d": onItsWay}
	go func() {
		time.Sleep(20 * time.Millisecond)
		f.prefetched.Put("d", []remote.DirEntry{{Name: "a"}})
		f.prefetchMu.Lock()
		close(onItsWay)
		delete(f.prefetching, "d")
		f.prefetchMu.Unlock()
	}()
	got, ok := f.takePrefetched(context.Background(), "d")
	if !ok || len(got) != 1 || got[0].Name != "a" {
		t.Fatalf("took %v, %v; want the listing that was on its way", got, ok)
	}
	// One on its way past the caller's deadline is not waited for.
	f.prefetchMu.Lock()
	f.prefetching["e"] = make(chan struct{})
	f.prefetchMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, ok := f.takePrefetched(ctx, "e"); ok {
		t.Fatal("a listing that never came was reported taken")
	}
}

// A directory is listed again at expiry only once its listing has saved
// more lookups than listing it costs: 3 round trips, and one more per
// hundred names.
func TestADirectoryIsWorthListingAgainOnceItsListingHasPaidForItself(t *testing.T) {
	f := testFS()
	names := make([]string, 250)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i)
	}
	f.listings.Put("d", newListing(names))
	for i := 0; i < 4; i++ {
		f.knownAbsent(fmt.Sprintf("d/x%d", i))
		f.knownAbsent("d/n1") // present: saves nothing
	}
	if _, ok := f.relistable.Get("d"); ok {
		t.Fatal("relistable after 4 lookups saved; listing 250 names costs 5 round trips")
	}
	f.knownAbsent("d/x4")
	if _, ok := f.relistable.Get("d"); !ok {
		t.Fatal("not relistable after 5 lookups saved")
	}
}

// The server's "no such name" is kept for the negative timeout, also in a
// directory never listed, unless a change of ours to the name may have
// come after it: ours always wins.
func TestAnAbsentAnswerIsKeptUnlessOurChangeMayBeMissingFromIt(t *testing.T) {
	f := testFS()
	tok := f.changed.Begin()
	f.confirmAbsent("u/y", time.Now(), tok)
	f.changed.End(tok)
	if !f.knownAbsent("u/y") {
		t.Fatal("the server's fresh answer about a name in an unlisted directory was not kept")
	}
	f.settled("u/y", nil, true)
	if f.knownAbsent("u/y") {
		t.Fatal("a name we made is still answered absent")
	}

	tok = f.changed.Begin()
	asked := time.Now()
	f.settled("u/x", nil, true) // made by us while the question was on its way
	f.confirmAbsent("u/x", asked, tok)
	f.changed.End(tok)
	if f.knownAbsent("u/x") {
		t.Fatal("an answer that may predate our own create was kept")
	}

	tok = f.changed.Begin()
	f.confirmAbsent("u/old", time.Now().Add(-2*f.opts.Caches.Negative), tok)
	f.changed.End(tok)
	if f.knownAbsent("u/old") {
		t.Fatal("an answer older than the negative timeout was used")
	}
}
