package writeback

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sftpmount/sftpmount/cache"
)

// What makes a journal trusted: its directory can be written by this
// user alone (another local user who could plant files there could make
// the mount upload them, or write through it outside the served
// directory; cache.PrivateDir); it names the remote it was made for;
// each of its files is opened without following a symlink and is a
// regular file of this user's with one name (cache.OpenOwn); and each
// record is checked before it is used.

// JournalRemote is the remote directory a journal's files are for.
type JournalRemote struct {
	User string `json:"user"`
	Host string `json:"host"`
	Port int    `json:"port"`
	Dir  string `json:"dir"` // the served directory, as the server resolved it
}

func (r JournalRemote) String() string {
	return fmt.Sprintf("%s@%s:%d:%s", r.User, r.Host, r.Port, r.Dir)
}

// ForeignJournalError is OpenJournal's error for a journal whose files
// are for another remote directory than this mount's.
type ForeignJournalError struct {
	Dir       string
	Has, Want JournalRemote
	Unnamed   bool // an older journal, that names no remote
}

func (e *ForeignJournalError) Error() string {
	if e.Unnamed {
		return fmt.Sprintf("journal %s holds files and names no remote; this mount is of %s (move the journal aside to mount)", e.Dir, e.Want)
	}
	return fmt.Sprintf("journal %s holds files for %s, not for %s", e.Dir, e.Has, e.Want)
}

// remoteFile names the remote in a journal's directory.
const remoteFile = "remote"

// claim checks that the journal is want's, or holds no record, or names
// no remote and is in the place named after want (named): then it
// becomes want's. The journal is locked.
func (j *Journal) claim(want JournalRemote, named bool) error {
	b, err := cache.ReadOwn(filepath.Join(j.dir, remoteFile))
	if err == nil {
		var has JournalRemote
		if json.Unmarshal(b, &has) == nil && has == want {
			return nil
		}
		if recs, _ := j.hasRecords(); recs {
			return &ForeignJournalError{Dir: j.dir, Has: has, Want: want}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal %s: its remote %v", j.dir, err)
	} else if recs, _ := j.hasRecords(); recs && !named {
		return &ForeignJournalError{Dir: j.dir, Want: want, Unnamed: true}
	}
	b, err = json.Marshal(want)
	if err != nil {
		return err
	}
	tmp := filepath.Join(j.dir, remoteFile+".new")
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(j.dir, remoteFile))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return j.syncDir()
}

// hasRecords reports whether the directory holds a record (a .meta not
// empty, or not a regular file): a file to upload, or one to set aside.
func (j *Journal) hasRecords() (bool, error) {
	return dirHasRecords(j.dir)
}

func dirHasRecords(dir string) (bool, error) {
	names, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, d := range names {
		if !strings.HasSuffix(d.Name(), ".meta") {
			continue
		}
		if fi, err := d.Info(); err == nil && (!fi.Mode().IsRegular() || fi.Size() > 0) {
			return true, nil
		}
	}
	return false, nil
}

// HasRecords reports whether the journal c names holds files to upload
// (or records to set aside), making and changing nothing: a mount
// without -o writeback opens a journal only then. A directory that is
// missing holds none; one that is not this user's alone is an error
// (*cache.NotPrivateError), whatever it holds.
func HasRecords(c JournalConfig) (bool, error) {
	dir, err := cache.PrivateDir(c.Dir, c.Above, false)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("journal %s: %w", c.Dir, err)
	}
	return dirHasRecords(dir)
}

// checkRecord says what is wrong with e, the record of the entry id
// (from its file's name), or nil: its path must be a clean path inside
// the served directory, its sizes and mode sane.
func checkRecord(id string, e JournalEntry) error {
	p := e.Path
	switch {
	case e.ID != id:
		return fmt.Errorf("its id %q is not its name's", e.ID)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("its path %q holds a NUL", p)
	case path.IsAbs(p):
		return fmt.Errorf("its path %q is absolute", p)
	case p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return fmt.Errorf("its path %q leaves the served directory", p)
	case p != "" && path.Clean(p) != p, p == ".":
		return fmt.Errorf("its path %q is not clean", p)
	case p == "" && !e.Dir:
		return errors.New("it is a file with no path")
	case e.Size < 0 || e.BaseSize < 0 || (e.Dir && e.Size != 0):
		return fmt.Errorf("its size %d is not one", e.Size)
	case e.Mode&^0o7777 != 0:
		return fmt.Errorf("its mode %o is not permission bits", e.Mode)
	}
	return nil
}

// checkData opens entry e's bytes (cache.OpenOwn) and checks that they hold
// the size its record says; they are closed again.
func (j *Journal) checkData(e JournalEntry) error {
	f, err := cache.OpenOwn(j.DataPath(e.ID), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("its data %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < e.Size {
		return fmt.Errorf("its data holds %d bytes, its record says %d", fi.Size(), e.Size)
	}
	return nil
}

// setAsideSuffix ends the names of a record's files set aside: kept for
// whoever looks, never read again by a mount.
const setAsideSuffix = ".set-aside"

// setAside renames entry id's files out of the journal's way and names
// them in one notice.
func (j *Journal) setAside(id string, why error) {
	for _, p := range []string{j.metaPath(id), j.DataPath(id)} {
		os.Rename(p, p+setAsideSuffix)
	}
	j.notice(fmt.Sprintf("write-back journal %s: record %s set aside, not uploaded: %v (its files now end in %s)", j.dir, id, why, setAsideSuffix))
}

// OpenData opens entry id's bytes for reading and writing, as cache.OpenOwn
// does.
func (j *Journal) OpenData(id string) (*os.File, error) {
	return cache.OpenOwn(j.DataPath(id), os.O_RDWR, 0)
}
