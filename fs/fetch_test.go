package fs

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/sftpmount/sftpmount/remote"
)

// A listing (ls -l in a loop) fetched while a write is on its way, or
// asked before it, must not replace the size the writer knows: fstat and
// lseek(SEEK_END) would report a size the file does not have, and the
// kernel would stop reads at it.
func TestAListingFetchedAroundAWriteDoesNotChangeTheSizeTheWriterKnows(t *testing.T) {
	f := &fakeFile{gateOff: 0, gate: make(chan struct{})}
	node := &Node{fs: testFS()}
	fs := node.fs
	fs.attrs.Put("f", remote.Attr{Mode: 0644})
	h := openTestHandle(t, node, f, os.O_RDWR)
	var open sync.Once
	land := func() { open.Do(func() { close(f.gate) }) }
	t.Cleanup(land) // before the handle's own cleanup flushes it
	server := []remote.DirEntry{{Name: "f", Attr: remote.Attr{Mode: 0644, Size: 0}}}
	size := func() uint64 { a, _ := fs.attrs.Get("f"); return a.Size }

	before := fs.changed.Begin() // a listing asked before the write
	if _, errno := h.Write(context.Background(), make([]byte, 100), 0); errno != 0 {
		t.Fatal(errno)
	}
	during := fs.changed.Begin() // one asked while it is on its way
	fs.remember("", server, before)
	if got := size(); got != 100 {
		t.Fatalf("a listing asked before the write made the size %d, want 100", got)
	}
	fs.remember("", server, during)
	if got := size(); got != 100 {
		t.Fatalf("a listing answered while the write was in flight made the size %d, want 100", got)
	}
	land()
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	fs.remember("", server, during) // answered by the server before the write landed
	if got := size(); got != 100 {
		t.Fatalf("a listing asked before the write landed made the size %d, want 100", got)
	}
	fs.changed.End(before)
	fs.changed.End(during)

	after := fs.changed.Begin()
	defer fs.changed.End(after)
	fs.remember("", []remote.DirEntry{{Name: "f", Attr: remote.Attr{Mode: 0600, Size: 100}}}, after)
	if a, _ := fs.attrs.Get("f"); a.Mode != 0600 {
		t.Fatalf("a listing asked after the write landed was not taken: %v", a.Mode)
	}
}

// The same for a truncate or any setattr (touched), and for the names of
// a directory this mount is filling.
func TestAListingAskedBeforeATruncateOrACreateIsNotKept(t *testing.T) {
	fs := testFS()
	fs.attrs.Put("d/f", remote.Attr{Size: 10})
	tok := fs.changed.Begin()
	defer fs.changed.End(tok)
	fs.touched("d/f")
	fs.attrs.Put("d/f", remote.Attr{Size: 10}) // what the truncate established
	fs.added("d/new")
	fs.remember("d", []remote.DirEntry{{Name: "f", Attr: remote.Attr{Size: 5000}}}, tok)
	if a, _ := fs.attrs.Get("d/f"); a.Size != 10 {
		t.Fatalf("a listing asked before a truncate made the size %d, want 10", a.Size)
	}
	if _, listed := fs.listings.Get("d"); listed {
		t.Fatal("a listing asked before a file was made in d was kept: it lacks the file")
	}
}

// A listing made ahead of a walk (prefetch.go) while a file in it was
// being written holds the file's size on the server at that moment. It
// was kept when only the directory was checked, and the walk's lookups
// then took that size as fresh: the kernel cut copies out of the file
// there (the soak's short copies).
func TestAListingMadeAheadWhileAFileInItIsWrittenIsNotKept(t *testing.T) {
	fs := testFS()
	server := []remote.DirEntry{{Name: "f", Attr: remote.Attr{Mode: 0644, Size: 3 << 20}}}

	tok := fs.changed.Begin()
	fs.touched("d/f") // a write of d/f lands while the listing is on its way
	fs.keepPrefetched("d", server, tok)
	fs.changed.End(tok)
	if _, ok := fs.prefetched.Get("d"); ok {
		t.Fatal("a listing asked before a write of one of its files was kept")
	}

	tok = fs.changed.Begin()
	fs.keepPrefetched("d", server, tok)
	fs.changed.End(tok)
	if _, ok := fs.prefetched.Get("d"); !ok {
		t.Fatal("a listing nothing changed under was not kept")
	}
	fs.wrote("d/f", 4<<20) // and one queued after it was kept drops it
	if _, ok := fs.prefetched.Get("d"); ok {
		t.Fatal("a listing made ahead outlived a write of one of its files")
	}
}
