package writeback

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sftpmount/sftpmount/cache"
)

// Journal is the on-disk record of write-back (-o writeback): files whose
// close(2) has returned but whose bytes are not yet on the server. Each
// file is two entries in one directory: ID.data, its bytes, and ID.meta,
// what it is (JournalEntry, JSON). A meta file is written whole beside
// and renamed into place after the data was synced, and the directory is
// synced after: a crash leaves either the old record or the new one, never
// half of one, and a .data without a .meta is a file whose close never
// returned. One mount at a time holds a journal (a lock file, flock).
type Journal struct {
	dir    string
	lock   *os.File
	notice func(string) // names each record set aside

	// Pairs of empty files made ahead, a batch at a time with one sync
	// of the directory: a new file's first Commit then writes its record
	// into its own empty .meta and syncs the two files, with no rename
	// and no sync of the directory (one commit of the filesystem's
	// journal, not three).
	poolMu  sync.Mutex
	pool    []string
	filling bool
	fills   sync.WaitGroup  // fill, run ahead by NewData; Close waits for it
	virgin  map[string]bool // taken from the pool, record never written

	// An entry's records are written one at a time (two writers of one
	// entry would share its .meta.new), and none after its Remove: a
	// record still on its way would bring back an uploaded file.
	idMu    [64]sync.Mutex // by a hash of the id
	removed sync.Map       // ids removed; ids are never given again
}

// entryLock is the lock of id's records.
func (j *Journal) entryLock(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &j.idMu[h.Sum32()%uint32(len(j.idMu))]
}

// poolBatch is how many pairs are made ahead at a time.
const poolBatch = 64

// JournalEntry is one file waiting to be uploaded. Times are Unix
// nanoseconds.
type JournalEntry struct {
	ID   string `json:"id"`
	Path string `json:"path"` // relative to the mount's root
	// What the server had at Path when the file was begun here: an
	// upload that finds something else there keeps its bytes beside.
	BaseExists bool  `json:"base_exists"`
	BaseSize   int64 `json:"base_size,omitempty"`
	BaseMtime  int64 `json:"base_mtime,omitempty"`

	Mode  uint32  `json:"mode"` // permission bits
	UID   *uint32 `json:"uid,omitempty"`
	GID   *uint32 `json:"gid,omitempty"`
	Atime int64   `json:"atime"`
	Mtime int64   `json:"mtime"`
	Size  int64   `json:"size"`
	Made  int64   `json:"made"` // when its first close returned

	// Dir marks the times of a directory (Path, Atime, Mtime), to be
	// set again once the files waiting in it are uploaded; no data.
	Dir bool `json:"dir,omitempty"`
}

// ErrJournalBusy is OpenJournal's error when another process holds it.
var ErrJournalBusy = errors.New("in use by another sftpmount")

// JournalConfig says where a journal is and whose it is.
type JournalConfig struct {
	Dir string
	// Above is where the components of Dir that are the mount's begin:
	// Dir and those below Above must be this user's alone, Above and
	// those over it this user's or root's (see cache.PrivateDir). Empty: Dir's
	// parent.
	Above  string
	Remote JournalRemote // the remote directory its files are for
	Notice func(string)  // names each record set aside (nil: none)
	// NamedByRemote says Dir's name is derived from Remote (the default
	// place): a journal there that names no remote, an earlier version's,
	// is Remote's, and is taken over with its files.
	NamedByRemote bool
}

// OpenJournal opens (making it if need be, 0700) and locks the journal
// c names. Its directory must be this user's alone (*cache.NotPrivateError),
// and its files for c.Remote, unless it holds none (*ForeignJournalError).
func OpenJournal(c JournalConfig) (*Journal, error) {
	dir, err := cache.PrivateDir(c.Dir, c.Above, true)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", c.Dir, err)
	}
	lock, err := cache.OpenOwn(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal %s: its lock %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("journal %s: %w", dir, ErrJournalBusy)
		}
		return nil, err
	}
	j := &Journal{dir: dir, lock: lock, notice: c.Notice}
	if j.notice == nil {
		j.notice = func(string) {}
	}
	if err := j.claim(c.Remote, c.NamedByRemote); err != nil {
		lock.Close()
		return nil, err
	}
	return j, nil
}

// Dir is where the journal is.
func (j *Journal) Dir() string { return j.dir }

// Close waits for a batch of pairs being made ahead, removes the pairs
// made ahead and unlocks the journal.
func (j *Journal) Close() error {
	j.fills.Wait()
	j.poolMu.Lock()
	pool := j.pool
	j.pool = nil
	j.poolMu.Unlock()
	for _, id := range pool { // removed with poolMu let go: no disk I/O under it
		os.Remove(j.metaPath(id))
		os.Remove(j.DataPath(id))
	}
	return j.lock.Close()
}

// Entries are the files the journal holds, oldest first. A .data with no
// .meta (a close that never returned) is removed. A record that fails
// its checks (checkRecord, checkData, cache.OpenOwn) is set aside and named in
// a notice, not given.
func (j *Journal) Entries() ([]JournalEntry, error) {
	names, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, err
	}
	metas := map[string]bool{}
	for _, d := range names {
		if id, ok := strings.CutSuffix(d.Name(), ".meta"); ok {
			metas[id] = true
		}
	}
	var out []JournalEntry
	for _, d := range names {
		name := d.Name()
		switch {
		case strings.HasSuffix(name, ".data"):
			if id := strings.TrimSuffix(name, ".data"); !metas[id] {
				os.Remove(filepath.Join(j.dir, name))
			}
		case strings.HasSuffix(name, ".meta.new"):
			os.Remove(filepath.Join(j.dir, name))
		case strings.HasSuffix(name, ".meta"):
			id := strings.TrimSuffix(name, ".meta")
			b, err := cache.ReadOwn(filepath.Join(j.dir, name))
			if err != nil {
				j.setAside(id, fmt.Errorf("its record %w", err))
				continue
			}
			var e JournalEntry
			if len(b) == 0 || json.Unmarshal(b, &e) != nil {
				// Made ahead and never used, or a first record cut by
				// a crash before its close returned.
				os.Remove(filepath.Join(j.dir, name))
				os.Remove(j.DataPath(id))
				continue
			}
			if err := checkRecord(id, e); err != nil {
				j.setAside(id, err)
				continue
			}
			if !e.Dir {
				if err := j.checkData(e); err != nil {
					j.setAside(id, err)
					continue
				}
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Made < out[b].Made })
	return out, nil
}

// NewData makes a new entry's data file, empty, and gives its ID.
func (j *Journal) NewData() (string, *os.File, error) {
	j.poolMu.Lock()
	if len(j.pool) == 0 {
		j.poolMu.Unlock()
		if err := j.fill(); err != nil {
			return "", nil, err
		}
		j.poolMu.Lock()
	}
	if len(j.pool) == 0 {
		j.poolMu.Unlock()
		return "", nil, errors.New("journal: no file made ahead")
	}
	id := j.pool[len(j.pool)-1]
	j.pool = j.pool[:len(j.pool)-1]
	if j.virgin == nil {
		j.virgin = map[string]bool{}
	}
	j.virgin[id] = true
	if len(j.pool) < poolBatch/4 && !j.filling {
		j.filling = true
		j.fills.Go(func() { j.fill() })
	}
	j.poolMu.Unlock()
	f, err := j.OpenData(id)
	return id, f, err
}

// fill makes a batch of empty pairs, durable with one sync of the
// directory, and adds them to the pool.
func (j *Journal) fill() error {
	defer func() {
		j.poolMu.Lock()
		j.filling = false
		j.poolMu.Unlock()
	}()
	var made []string
	var err error
	for i := 0; i < poolBatch && err == nil; i++ {
		var b [8]byte
		rand.Read(b[:])
		id := fmt.Sprintf("%d-%s", time.Now().UnixNano(), hex.EncodeToString(b[:]))
		for _, p := range []string{j.DataPath(id), j.metaPath(id)} {
			var f *os.File
			if f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600); err != nil {
				break
			}
			f.Close()
		}
		if err == nil {
			made = append(made, id)
		}
	}
	if serr := j.syncDir(); err == nil {
		err = serr
	}
	if len(made) > 0 && err == nil {
		j.poolMu.Lock()
		j.pool = append(j.pool, made...)
		j.poolMu.Unlock()
	}
	return err
}

// DataPath is where entry id's bytes are.
func (j *Journal) DataPath(id string) string { return filepath.Join(j.dir, id+".data") }

func (j *Journal) metaPath(id string) string { return filepath.Join(j.dir, id+".meta") }

// Commit makes e durable: data (e's bytes, when given) is synced first,
// then e's record replaces the one before it, and the directory is
// synced. Once it returns, a crash loses nothing of e.
func (j *Journal) Commit(e JournalEntry, data *os.File) error {
	mu := j.entryLock(e.ID)
	mu.Lock()
	defer mu.Unlock()
	if _, gone := j.removed.Load(e.ID); gone {
		return nil
	}
	if j.takeVirgin(e.ID) {
		return j.firstCommit(e, data)
	}
	// The bytes are synced alongside the record: two syncs waiting on
	// one commit of the journal's filesystem rather than on two. The
	// record is renamed into place only once both are done.
	return j.write(e, true, syncing(data))
}

// syncing syncs data (nil: nothing) in the background and reports how
// that went.
func syncing(data *os.File) <-chan error {
	synced := make(chan error, 1)
	go func() {
		if data == nil {
			synced <- nil
			return
		}
		synced <- data.Sync()
	}()
	return synced
}

// takeVirgin reports whether id's record was never written, and from
// now on counts it written.
func (j *Journal) takeVirgin(id string) bool {
	j.poolMu.Lock()
	defer j.poolMu.Unlock()
	v := j.virgin[id]
	delete(j.virgin, id)
	return v
}

// firstCommit writes e's record into its empty .meta, made and synced
// ahead, and syncs it and the bytes together. A crash before both are
// synced leaves an empty or a cut record: a close that never returned,
// which Entries drops.
func (j *Journal) firstCommit(e JournalEntry, data *os.File) error {
	return j.writeFirst(e, true, syncing(data))
}

// writeFirst writes e's first record into its empty .meta, in place,
// and with durable syncs it, once alongside (when given) has reported.
func (j *Journal) writeFirst(e JournalEntry, durable bool, alongside <-chan error) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(j.metaPath(e.ID), os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, 0)
	if err == nil && durable {
		err = f.Sync()
	}
	if alongside != nil {
		if aerr := <-alongside; err == nil {
			err = aerr
		}
	}
	return err
}

// Record replaces e's record without waiting for the disk: a change
// after its file's close (chmod, utimes, a rename) is then as durable as
// the same change on the local disk, once its filesystem commits (5 s
// on ext4), or at the next Commit.
func (j *Journal) Record(e JournalEntry) error {
	mu := j.entryLock(e.ID)
	mu.Lock()
	defer mu.Unlock()
	if _, gone := j.removed.Load(e.ID); gone {
		return nil
	}
	if j.takeVirgin(e.ID) {
		// Its first record, in place: cut by a crash, the file (never
		// closed) is dropped, as it would have been without it.
		return j.writeFirst(e, false, nil)
	}
	return j.write(e, false, nil)
}

// write writes e's record beside and renames it into place, once
// alongside (when given) has reported success.
func (j *Journal) write(e JournalEntry, durable bool, alongside <-chan error) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp := j.metaPath(e.ID) + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if alongside != nil {
		if aerr := <-alongside; err == nil {
			err = aerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, j.metaPath(e.ID))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if !durable {
		return nil
	}
	return j.syncDir()
}

// Remove drops entry id once its file is on the server: the record
// first, so that a crash between the two leaves no entry to upload again.
func (j *Journal) Remove(id string) error {
	mu := j.entryLock(id)
	mu.Lock()
	defer mu.Unlock()
	j.removed.Store(id, struct{}{})
	j.takeVirgin(id)
	err := os.Remove(j.metaPath(id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := j.syncDir(); err != nil {
		return err
	}
	if err := os.Remove(j.DataPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (j *Journal) syncDir() error {
	d, err := os.Open(j.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
