package writeback

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// statusErr is a server's answer, as the fake remote gives it.
type statusErr struct{ code uint32 }

func (e statusErr) Error() string { return fmt.Sprintf("sftp status %d", e.code) }

const fxFailure = 4 // SSH_FX_FAILURE

// serverFile is a file on the fake server.
type serverFile struct {
	data  []byte
	mode  os.FileMode
	uid   uint32
	mtime time.Time
}

// fakeRemote is an in-memory server with hooks for what goes wrong.
type fakeRemote struct {
	mu    sync.Mutex
	files map[string]*serverFile
	avail uint64 // bytes free, for StatFS

	// writeErr, when set, is asked before each write: its error is the
	// write's.
	writeErr func(ctx context.Context, rel string) error
	closeErr func(rel string) error
}

func newFakeRemote() *fakeRemote {
	return &fakeRemote{files: map[string]*serverFile{}, avail: 1 << 30}
}

func (r *fakeRemote) put(rel string, data string, mtime time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[rel] = &serverFile{data: []byte(data), mode: 0o644, mtime: mtime}
}

func (r *fakeRemote) get(rel string) (*serverFile, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.files[rel]
	if !ok {
		return nil, false
	}
	c := *f
	c.data = append([]byte(nil), f.data...)
	return &c, true
}

// names are the server's names, sorted.
func (r *fakeRemote) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for p := range r.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (r *fakeRemote) LoginOwner() (uid, gid uint32) { return 1000, 1000 }

func (r *fakeRemote) Lstat(ctx context.Context, rel string) (remote.Attr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.files[rel]
	if !ok {
		return remote.Attr{}, os.ErrNotExist
	}
	return remote.Attr{Mode: f.mode, Size: uint64(len(f.data)), Mtime: f.mtime, UID: f.uid}, nil
}

func (r *fakeRemote) Create(ctx context.Context, rel string) (RemoteFile, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.files[rel]; ok {
		return nil, statusErr{fxFailure}
	}
	r.files[rel] = &serverFile{mode: 0o600}
	return &fakeFile{r: r, rel: rel}, nil
}

func (r *fakeRemote) Remove(ctx context.Context, rel string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.files[rel]; !ok {
		return os.ErrNotExist
	}
	delete(r.files, rel)
	return nil
}

func (r *fakeRemote) Rename(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.files[from]
	if !ok {
		return os.ErrNotExist
	}
	delete(r.files, from)
	r.files[to] = f
	return nil
}

func (r *fakeRemote) StatFS(ctx context.Context, rel string) (remote.StatFS, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return remote.StatFS{BlockSize: 1, FragmentSize: 1, BlocksAvail: r.avail}, nil
}

func (r *fakeRemote) Chtimes(ctx context.Context, rel string, a remote.Attr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[rel]; ok {
		f.mtime = a.Mtime
	}
	return nil
}

type fakeFile struct {
	r   *fakeRemote
	rel string
}

func (f *fakeFile) file() *serverFile {
	if sf, ok := f.r.files[f.rel]; ok {
		return sf
	}
	return &serverFile{} // removed meanwhile: written into nothing
}

func (f *fakeFile) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	if f.r.writeErr != nil {
		if err := f.r.writeErr(ctx, f.rel); err != nil {
			return 0, err
		}
	}
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	sf := f.file()
	if end := off + int64(len(p)); end > int64(len(sf.data)) {
		sf.data = append(sf.data, make([]byte, end-int64(len(sf.data)))...)
	}
	copy(sf.data[off:], p)
	return len(p), nil
}

func (f *fakeFile) Chmod(ctx context.Context, mode os.FileMode) error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.file().mode = mode
	return nil
}

func (f *fakeFile) Chown(ctx context.Context, uid, gid uint32) error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.file().uid = uid
	return nil
}

func (f *fakeFile) Chtimes(ctx context.Context, a remote.Attr) error {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.file().mtime = a.Mtime
	return nil
}

func (f *fakeFile) Close(ctx context.Context) error {
	if f.r.closeErr != nil {
		return f.r.closeErr(f.rel)
	}
	return nil
}

// fakeHost is the mount, as far as write-back tells it anything.
type fakeHost struct {
	mu       sync.Mutex
	uploaded []string
	kept     []string
}

func (h *fakeHost) NewFileOwner(dir string) (uid, gid uint32, ok bool) { return 0, 0, false }
func (h *fakeHost) Result(op, rel string, err error)                   {}
func (h *fakeHost) Uploaded(rel string, shown *remote.Attr) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.uploaded = append(h.uploaded, rel)
}
func (h *fakeHost) Kept(rel string, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kept = append(h.kept, rel)
}
func (h *fakeHost) DirTimesSet(dir string)       {}
func (h *fakeHost) Mode(perm uint32) os.FileMode { return os.FileMode(perm & 0o777) }
func (h *fakeHost) Errno(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}
func (h *fakeHost) Answered(err error) bool { return errors.As(err, new(statusErr)) }
func (h *fakeHost) IsFailure(err error) bool {
	var se statusErr
	return errors.As(err, &se) && se.code == fxFailure
}

// rig is a queue over a fake server and host, with its journal.
type rig struct {
	t      *testing.T
	dir    string
	j      *Journal
	q      *Queue
	remote *fakeRemote
	host   *fakeHost
	notes  chan string
}

func newRig(t *testing.T, r *fakeRemote, dir string) *rig {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "j")
	}
	j, err := OpenJournal(JournalConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	g := &rig{t: t, dir: dir, j: j, remote: r, host: &fakeHost{}, notes: make(chan string, 100)}
	g.q = New(g.host, r, Config{Journal: j, On: true, Notice: func(s string) { g.notes <- s }})
	return g
}

// shut closes the queue and its journal, as a mount's end does.
func (g *rig) shut() {
	g.q.Close(context.Background())
	g.j.Close()
}

// write makes rel in the journal with data, closed as close(2) does.
func (g *rig) write(rel, data string) *File {
	g.t.Helper()
	wf, err := g.q.Create(rel, 0o640)
	if err != nil {
		g.t.Fatal(err)
	}
	g.q.Open(wf, true)
	if _, err := wf.Data().WriteAt([]byte(data), 0); err != nil {
		g.t.Fatal(err)
	}
	g.q.Wrote(wf)
	if err := g.q.Commit(wf); err != nil {
		g.t.Fatal(err)
	}
	g.q.Release(wf, true)
	return wf
}

// entries are the paths the journal holds for files.
func entriesOf(t *testing.T, dir string) []string {
	t.Helper()
	j, err := OpenJournal(JournalConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	return out
}
