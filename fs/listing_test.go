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
	asked := time.Now()
	if f.knownAbsent("d/x", asked) {
		t.Fatal("absent without any listing")
	}
	f.listings.Put("d", newListing([]string{"a"}))
	if !f.knownAbsent("d/x", asked) || f.knownAbsent("d/a", asked) {
		t.Fatal("a listing read for the lookup was not consulted")
	}
	if f.knownAbsent("d/w", time.Now()) {
		t.Fatal("a listing read before the lookup began hid a name another client may have made since")
	}
	f.settled("d/x", nil, true)
	if f.knownAbsent("d/x", time.Now()) {
		t.Fatal("a name we created is still reported absent")
	}
	f.settled("d/a", nil, false)
	if !f.knownAbsent("d/a", time.Now()) || !f.knownAbsent("d/w", time.Now()) {
		t.Fatal("a directory we are filling does not answer absent names")
	}
	f.settled("d/y", errKnownAbsent, true)
	if f.knownAbsent("d/z", time.Now()) {
		t.Fatal("after a failed change the listing must not be trusted")
	}
}

// The sshfs suite's sequence: list, a name made by another client, a
// lookup of it at once. Only the lookup that the listing answered (one
// that began before it was read) keeps its answer, for the name alone.
func TestAListingReadDoesNotHideANameMadeSince(t *testing.T) {
	f := testFS()
	asked := time.Now()
	f.listings.Put("d", newListing([]string{"a"}))
	if !f.knownAbsent("d/x", asked) {
		t.Fatal("the listing read for the lookup of d/x did not answer it")
	}
	later := time.Now()
	if !f.knownAbsent("d/x", later) {
		t.Fatal("d/x, answered absent for its own lookup, was not kept for the negative timeout")
	}
	if f.knownAbsent("d/new", later) {
		t.Fatal("a name never asked about was hidden by an older listing")
	}
	f.listings.Put("m", newDirListing())
	if !f.knownAbsent("m/x", later) {
		t.Fatal("a directory we just made does not answer absent names")
	}
}

func TestRootListingUsesTheEmptyPath(t *testing.T) {
	f := testFS()
	asked := time.Now()
	f.listings.Put("", newListing([]string{"top"}))
	if !f.knownAbsent("other", asked) || f.knownAbsent("top", asked) {
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
	asked := time.Now()
	f.listings.Put("d", newListing(names))
	for i := 0; i < 4; i++ {
		f.knownAbsent(fmt.Sprintf("d/x%d", i), asked)
		f.knownAbsent("d/n1", asked) // present: saves nothing
	}
	if _, ok := f.relistable.Get("d"); ok {
		t.Fatal("relistable after 4 lookups saved; listing 250 names costs 5 round trips")
	}
	f.knownAbsent("d/x4", asked)
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
	if !f.knownAbsent("u/y", time.Now()) {
		t.Fatal("the server's fresh answer about a name in an unlisted directory was not kept")
	}
	f.settled("u/y", nil, true)
	if f.knownAbsent("u/y", time.Now()) {
		t.Fatal("a name we made is still answered absent")
	}

	tok = f.changed.Begin()
	asked := time.Now()
	f.settled("u/x", nil, true) // made by us while the question was on its way
	f.confirmAbsent("u/x", asked, tok)
	f.changed.End(tok)
	if f.knownAbsent("u/x", time.Now()) {
		t.Fatal("an answer that may predate our own create was kept")
	}

	tok = f.changed.Begin()
	f.confirmAbsent("u/old", time.Now().Add(-2*f.opts.Caches.Negative), tok)
	f.changed.End(tok)
	if f.knownAbsent("u/old", time.Now()) {
		t.Fatal("an answer older than the negative timeout was used")
	}
}
