package fs

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// What was fetched ahead answers a read only where it holds every byte
// asked for, or the file's end; the rest is the file's to read.
func TestBytesFetchedAheadAnswerOnlyWhatTheyHold(t *testing.T) {
	whole := &aheadFile{data: []byte("0123456789"), whole: true}
	part := &aheadFile{data: []byte("0123456789")}
	for _, c := range []struct {
		e            *aheadFile
		off, len     int
		n            int
		eof, answers bool
	}{
		{whole, 0, 4, 4, false, true},
		{whole, 6, 4, 4, false, true},
		{whole, 6, 8, 4, true, true},
		{whole, 10, 8, 0, true, true},
		{whole, 20, 8, 0, true, true},
		{part, 0, 10, 10, false, true},
		{part, 6, 8, 4, false, false},
		{part, 10, 8, 0, false, false},
	} {
		p := make([]byte, c.len)
		n, eof, ok := c.e.read(p, int64(c.off))
		if n != c.n || eof != c.eof || ok != c.answers {
			t.Errorf("whole=%v read %d at %d: %d %v %v, want %d %v %v", c.e.whole, c.len, c.off, n, eof, ok, c.n, c.eof, c.answers)
		}
		if string(p[:n]) != string(c.e.data[min(c.off, len(c.e.data)):][:n]) {
			t.Errorf("read %d at %d gave %q", c.len, c.off, p[:n])
		}
	}
}

// The opens of a walk: nothing is fetched until two opens in a row follow
// the listed order or the name order; then 4, 8, 16 and 32 files past
// the open, each once; a random order fetches nothing.
func TestAWalkFetchesAheadOnlyInOrderAndWithinItsWindow(t *testing.T) {
	var listed []string
	for i := 0; i < 100; i++ {
		listed = append(listed, fmt.Sprintf("n%03d", (i*37)%100)) // listed order is not name order
	}
	ord := newDirOrder(listed, nil)
	walk := func(order []string) [][]string {
		wk := &dirWalk{ord: ord, listed: -2, sorted: -2}
		var got [][]string
		for _, name := range order {
			got = append(got, wk.next(ord.listedAt[name], ord.sortedAt[name]))
		}
		return got
	}
	for _, c := range []struct {
		what  string
		order []string
	}{{"listed", listed}, {"by name", ord.sorted}} {
		got := walk(c.order)
		if len(got[0]) != 0 {
			t.Errorf("%s: the first open fetched %v", c.what, got[0])
		}
		fetched := map[string]int{}
		for i, names := range got {
			for _, n := range names {
				if fetched[n]++; fetched[n] > 1 {
					t.Errorf("%s: %s fetched twice", c.what, n)
				}
				at := slices.Index(c.order, n)
				if at <= i || at > i+aheadFiles {
					t.Errorf("%s: open %d fetched %s, at %d: not within the %d files after it", c.what, i, n, at, aheadFiles)
				}
			}
		}
		for i, window := range []int{1: 4, 2: 8, 3: 16, 4: 32, 5: 32} {
			if i == 0 {
				continue
			}
			if last := got[i][len(got[i])-1]; slices.Index(c.order, last) != i+window {
				t.Errorf("%s: open %d fetched up to %d, want %d past it", c.what, i, slices.Index(c.order, last), window)
			}
		}
		if len(fetched) != len(c.order)-2 {
			t.Errorf("%s: %d of %d files fetched ahead, want all but the first two", c.what, len(fetched), len(c.order))
		}
	}
	// A stride of 7 through the names, which follows neither order.
	var random []string
	for i := 0; i < 100; i++ {
		random = append(random, ord.sorted[(i*7)%100])
	}
	for i, names := range walk(random) {
		if len(names) != 0 {
			t.Fatalf("random open %d fetched %v", i, names)
		}
	}
}

// A walk that has the last files of a directory on their way goes on
// with the first files of the directory after it in its parent's
// listing, once, and only when that directory's order is known.
func TestAWalkGoesOnIntoTheNextDirectoryOfItsParentsListing(t *testing.T) {
	f := &FS{ahead: newWalkAhead(CachesFor(time.Minute))}
	w := f.ahead
	w.orders.Put("p", newDirOrder([]string{"x"}, []string{"a", "b", "c"}))
	var files []string
	for i := 0; i < aheadFirst+8; i++ {
		files = append(files, fmt.Sprintf("f%02d", i))
	}
	w.orders.Put("p/b", newDirOrder(files, nil))
	w.mu.Lock()
	defer w.mu.Unlock()
	got := f.nextDirFilesLocked("p/a")
	if len(got) != aheadFirst || got[0] != "p/b/f00" || got[aheadFirst-1] != fmt.Sprintf("p/b/f%02d", aheadFirst-1) {
		t.Fatalf("after p/a: %v, want p/b's first %d files", got, aheadFirst)
	}
	if again := f.nextDirFilesLocked("p/a"); len(again) != 0 {
		t.Errorf("asked again: %v, want nothing (p/b's walk has begun)", again)
	}
	if none := f.nextDirFilesLocked("p/b"); len(none) != 0 {
		t.Errorf("after p/b, whose next (c) was never listed: %v", none)
	}
	if none := f.nextDirFilesLocked("p/c"); len(none) != 0 {
		t.Errorf("after the last directory: %v", none)
	}
}
