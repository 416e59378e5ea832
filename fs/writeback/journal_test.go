package writeback

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A record made durable is found again by the next open, its bytes with
// it; a removed one is not; a .data without its record (a close that
// never returned) is dropped; and one journal is held by one mount.
func TestTheJournalGivesBackWhatWasCommittedAndNothingElse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := OpenJournal(JournalConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJournal(JournalConfig{Dir: dir}); !errors.Is(err, ErrJournalBusy) {
		t.Fatalf("a second open: %v, want ErrJournalBusy", err)
	}
	id, f, err := j.NewData()
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello")
	uid := uint32(7)
	if err := j.Commit(JournalEntry{ID: id, Path: "a/b", Mode: 0o640, UID: &uid, Size: 5, Mtime: 123, Made: 1}, f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	gone, g, _ := j.NewData()
	g.Close()
	if err := j.Commit(JournalEntry{ID: gone, Path: "c", Made: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Remove(gone); err != nil {
		t.Fatal(err)
	}
	orphan, o, _ := j.NewData() // never committed
	o.Close()
	j.Close()

	j, err = OpenJournal(JournalConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Path != "a/b" || es[0].Mode != 0o640 || es[0].UID == nil || *es[0].UID != 7 || es[0].Size != 5 || es[0].Mtime != 123 {
		t.Fatalf("entries after reopening: %+v", es)
	}
	if b, err := os.ReadFile(j.DataPath(id)); err != nil || string(b) != "hello" {
		t.Errorf("data: %q %v", b, err)
	}
	if _, err := os.Stat(j.DataPath(orphan)); !os.IsNotExist(err) {
		t.Errorf("the uncommitted data is still there: %v", err)
	}
	if _, err := os.Stat(j.DataPath(gone)); !os.IsNotExist(err) {
		t.Errorf("the removed entry's data is still there: %v", err)
	}
}

// Files made ahead and never used, and a first record cut by a crash
// (its close never returned), are not entries; a committed one is.
func TestTheJournalDropsFilesMadeAheadAndCutFirstRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	j, err := OpenJournal(JournalConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cut, f, err := j.NewData()
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("never acknowledged")
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, cut+".meta"), []byte(`{"id":"`+cut+`","path":"x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	kept, g, _ := j.NewData()
	g.WriteString("kept")
	if err := j.Commit(JournalEntry{ID: kept, Path: "k", Size: 4}, g); err != nil {
		t.Fatal(err)
	}
	g.Close()
	j.Close() // a crash would leave the made-ahead pairs too: Entries drops them
	j, err = OpenJournal(JournalConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	es, err := j.Entries()
	if err != nil || len(es) != 1 || es[0].Path != "k" {
		t.Fatalf("entries: %+v %v", es, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 4 { // lock, remote, kept's .data and .meta
		t.Errorf("files left: %v", left)
	}
}

// Records of one entry written at once (a file's close and the recorder)
// all succeed, and the entry holds one of them whole; a record that
// arrives after the entry's Remove (its upload done) brings nothing back.
func TestRecordsOfOneEntryAtOnceAndAfterItsRemoval(t *testing.T) {
	j, err := OpenJournal(JournalConfig{Dir: filepath.Join(t.TempDir(), "j")})
	if err != nil {
		t.Fatal(err)
	}
	id, f, err := j.NewData()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(make([]byte, 100)) // every size the records below say
	if err := j.Commit(JournalEntry{ID: id, Path: "x", Size: 0}, f); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 200)
	for i := 0; i < 100; i++ {
		go func(i int) { errs <- j.Record(JournalEntry{ID: id, Path: "x", Size: int64(i)}) }(i)
		go func(i int) { errs <- j.Commit(JournalEntry{ID: id, Path: "x", Size: int64(i)}, f) }(i)
	}
	for i := 0; i < 200; i++ {
		if err := <-errs; err != nil {
			t.Errorf("a record written beside another: %v", err)
		}
	}
	es, err := j.Entries()
	if err != nil || len(es) != 1 || es[0].Path != "x" {
		t.Fatalf("after the writes: %+v %v", es, err)
	}
	if err := j.Remove(id); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(JournalEntry{ID: id, Path: "x", Size: 1}); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(JournalEntry{ID: id, Path: "x", Size: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if es, err := j.Entries(); err != nil || len(es) != 0 {
		t.Errorf("records after the Remove: %+v %v", es, err)
	}
}
