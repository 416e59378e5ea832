package writeback

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sftpmount/sftpmount/cache"
)

// A record is used only when its path is a clean path inside the served
// directory, its id its file's, its size and mode sane.
func TestARecordIsCheckedBeforeItIsUsed(t *testing.T) {
	for _, row := range []struct {
		e   JournalEntry
		bad string // in the error; "" for none
	}{
		{JournalEntry{ID: "1", Path: "a/b", Mode: 0o644, Size: 3}, ""},
		{JournalEntry{ID: "1", Path: "", Dir: true}, ""},
		{JournalEntry{ID: "1", Path: "a..b/..c", Mode: 0o4755}, ""},
		{JournalEntry{ID: "2", Path: "a"}, "id"},
		{JournalEntry{ID: "1", Path: "../x"}, "leaves"},
		{JournalEntry{ID: "1", Path: "a/../../x"}, "leaves"},
		{JournalEntry{ID: "1", Path: "a/.."}, "leaves"},
		{JournalEntry{ID: "1", Path: ".."}, "leaves"},
		{JournalEntry{ID: "1", Path: "/etc/passwd"}, "absolute"},
		{JournalEntry{ID: "1", Path: "a\x00b"}, "NUL"},
		{JournalEntry{ID: "1", Path: "a//b"}, "not clean"},
		{JournalEntry{ID: "1", Path: "./a"}, "not clean"},
		{JournalEntry{ID: "1", Path: "."}, "not clean"},
		{JournalEntry{ID: "1", Path: ""}, "no path"},
		{JournalEntry{ID: "1", Path: "a", Size: -1}, "size"},
		{JournalEntry{ID: "1", Path: "a", Dir: true, Size: 4}, "size"},
		{JournalEntry{ID: "1", Path: "a", Mode: 0o100644}, "mode"},
	} {
		err := checkRecord("1", row.e)
		if row.bad == "" && err != nil || row.bad != "" && (err == nil || !strings.Contains(err.Error(), row.bad)) {
			t.Errorf("%+v: %v, want %q", row.e, err, row.bad)
		}
	}
}

// A record whose files are a symlink, a hard link or not this user's is
// set aside (renamed, named in a notice) and not given; a good one is.
func TestRecordsWhoseFilesAreLinksAreSetAside(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	var notices []string
	j, err := OpenJournal(JournalConfig{Dir: dir, Notice: func(s string) { notices = append(notices, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("not the journal's"), 0o600)
	ids := map[string]string{}
	for _, name := range []string{"good", "symlink", "hardlink", "metalink", "climbs"} {
		id, f, err := j.NewData()
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("data")
		path := name
		if name == "climbs" {
			path = "../" + name
		}
		if err := j.Commit(JournalEntry{ID: id, Path: path, Size: 4}, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		ids[name] = id
	}
	os.Remove(j.DataPath(ids["symlink"]))
	os.Symlink(outside, j.DataPath(ids["symlink"]))
	os.Remove(j.DataPath(ids["hardlink"]))
	os.Link(outside, j.DataPath(ids["hardlink"]))
	meta := j.metaPath(ids["metalink"])
	os.Rename(meta, outside+".meta")
	os.Symlink(outside+".meta", meta)

	es, err := j.Entries()
	if err != nil || len(es) != 1 || es[0].Path != "good" {
		t.Fatalf("entries: %+v %v", es, err)
	}
	if len(notices) != 4 {
		t.Errorf("notices: %q", notices)
	}
	for name, id := range ids {
		if name == "good" {
			continue
		}
		aside, _ := filepath.Glob(filepath.Join(dir, id+".*"+setAsideSuffix))
		if len(aside) != 2 {
			t.Errorf("%s set aside as %v", name, aside)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "not the journal's" {
		t.Errorf("the file outside now holds %q", b)
	}
}

// A journal names its remote: another remote's mount refuses it while
// it holds files, and takes it once it holds none; one that names none
// and holds files (an older sftpmount's) is refused too.
func TestAJournalIsRefusedByAnotherRemoteWhileItHoldsFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j")
	a := JournalRemote{User: "u", Host: "a", Port: 22, Dir: "/srv"}
	b := a
	b.Host = "b"
	j, err := OpenJournal(JournalConfig{Dir: dir, Remote: a})
	if err != nil {
		t.Fatal(err)
	}
	id, f, _ := j.NewData()
	j.Commit(JournalEntry{ID: id, Path: "x"}, f)
	f.Close()
	j.Close()
	var fe *ForeignJournalError
	if _, err := OpenJournal(JournalConfig{Dir: dir, Remote: b}); !errors.As(err, &fe) || !strings.Contains(err.Error(), a.String()) || !strings.Contains(err.Error(), b.String()) {
		t.Fatalf("B's open of A's journal: %v", err)
	}
	os.Remove(filepath.Join(dir, remoteFile))
	if _, err := OpenJournal(JournalConfig{Dir: dir, Remote: a}); !errors.As(err, &fe) || !fe.Unnamed {
		t.Fatalf("a journal naming no remote, with files: %v", err)
	}
	// In the place named after its remote (an earlier version's default),
	// it is that remote's, files and all; and then names it.
	j, err = OpenJournal(JournalConfig{Dir: dir, Remote: a, NamedByRemote: true})
	if err != nil {
		t.Fatalf("an earlier version's journal in the place named after its remote: %v", err)
	}
	if es, _ := j.Entries(); len(es) != 1 {
		t.Fatalf("its files: %v", es)
	}
	j.Close()
	if _, err := OpenJournal(JournalConfig{Dir: dir, Remote: b, NamedByRemote: true}); !errors.As(err, &fe) || fe.Unnamed {
		t.Fatalf("once taken over it names its remote: B's open gave %v", err)
	}
	os.Remove(j.metaPath(id))
	j, err = OpenJournal(JournalConfig{Dir: dir, Remote: b})
	if err != nil {
		t.Fatalf("B's open of an empty journal: %v", err)
	}
	j.Close()
	if j, err = OpenJournal(JournalConfig{Dir: dir, Remote: b}); err != nil {
		t.Fatalf("B's open of its own journal: %v", err)
	}
	j.Close()
}

// The journal's directory must be this user's alone, and nothing is made
// under a directory that is not; one anyone may write (sticky or not) is
// refused, as is a lock file that is a symlink.
func TestAJournalDirectoryOthersCouldWriteIsRefused(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o700)
	os.Chmod(open, 0o777)
	var np *cache.NotPrivateError
	if _, err := OpenJournal(JournalConfig{Dir: open}); !errors.As(err, &np) {
		t.Errorf("a directory anyone may write: %v", err)
	}
	if _, err := OpenJournal(JournalConfig{Dir: filepath.Join(open, "state", "j"), Above: filepath.Join(open, "state")}); !errors.As(err, &np) {
		t.Errorf("under a directory anyone may write: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(open, "state")); err == nil {
		t.Errorf("a directory was made under one anyone may write")
	}
	sticky := filepath.Join(base, "sticky")
	os.Mkdir(sticky, 0o700)
	os.Chmod(sticky, os.ModeSticky|0o777)
	j, err := OpenJournal(JournalConfig{Dir: filepath.Join(sticky, "j")})
	if err != nil {
		t.Fatalf("a private directory in a sticky one (as in /tmp): %v", err)
	}
	j.Close()
	if fi, _ := os.Stat(filepath.Join(sticky, "j")); fi.Mode().Perm() != 0o700 {
		t.Errorf("made with mode %v", fi.Mode())
	}
	if has, err := HasRecords(JournalConfig{Dir: open}); has || !errors.As(err, &np) {
		t.Errorf("HasRecords of a directory anyone may write: %v %v", has, err)
	}
	if has, err := HasRecords(JournalConfig{Dir: filepath.Join(base, "missing")}); has || err != nil {
		t.Errorf("HasRecords of a missing directory: %v %v", has, err)
	}
	if _, err := os.Lstat(filepath.Join(base, "missing")); err == nil {
		t.Errorf("HasRecords made the directory")
	}
	linked := filepath.Join(base, "linked")
	os.Mkdir(linked, 0o700)
	os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(linked, "lock"))
	if _, err := OpenJournal(JournalConfig{Dir: linked}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("a lock that is a symlink: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(base, "elsewhere")); err == nil {
		t.Errorf("the lock's symlink was followed")
	}
	if os.Geteuid() == 0 {
		theirs := filepath.Join(base, "theirs")
		os.Mkdir(theirs, 0o700)
		os.Chown(theirs, 12345, 12345)
		if err := cache.OwnDir(theirs); err == nil {
			t.Errorf("another user's directory is accepted")
		}
	}
}
