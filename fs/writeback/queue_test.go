package writeback

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// syncAll waits for every upload, as unmount does, and fails the test on
// what was not uploaded.
func (g *rig) syncAll() {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if left := g.q.Sync(ctx); len(left) > 0 {
		g.t.Fatalf("not uploaded: %v", left)
	}
}

// goroutinesBackTo waits for the goroutines to number at most n again.
func goroutinesBackTo(t *testing.T, n int) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); runtime.NumGoroutine() > n; {
		if time.Now().After(end) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A file closed into the journal lands on the server whole, with its
// mode, under its name and no other; it leaves the journal, and Close
// ends every goroutine the queue started.
func TestAClosedFileLandsOnTheServerWholeAndLeavesTheJournal(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newFakeRemote()
	g := newRig(t, r, "")
	g.q.Start()
	g.write("d/a", "hello")
	g.syncAll()
	f, ok := r.get("d/a")
	if !ok || string(f.data) != "hello" || f.mode != 0o640 {
		t.Fatalf("on the server: %+v %v", f, ok)
	}
	if names := r.names(); !slices.Equal(names, []string{"d/a"}) {
		t.Errorf("the server holds %v", names)
	}
	if s := g.q.Status(); s.Files != 0 || s.Uploaded != 1 || s.UploadedByte != 5 {
		t.Errorf("status %+v", s)
	}
	g.shut()
	if es := entriesOf(t, g.dir); len(es) != 0 {
		t.Errorf("the journal still holds %v", es)
	}
	goroutinesBackTo(t, before)
}

// Another client changed the file at the name while ours waited: the
// server's file is kept, ours goes beside it, and a notice says so.
func TestAServerFileChangedUnderUsIsKeptAndOursGoesBeside(t *testing.T) {
	r := newFakeRemote()
	g := newRig(t, r, "")
	defer g.shut()
	g.write("a", "ours")
	r.put("a", "theirs", time.Now().Add(-time.Hour)) // made by another client meanwhile
	g.q.Start()
	g.syncAll()
	if f, _ := r.get("a"); string(f.data) != "theirs" {
		t.Errorf("the server's file was replaced: %q", f.data)
	}
	var beside string
	for _, n := range r.names() {
		if strings.HasPrefix(n, "a.sftpmount-conflict-") {
			beside = n
		}
	}
	if f, ok := r.get(beside); !ok || string(f.data) != "ours" {
		t.Fatalf("ours is not beside it: %v", r.names())
	}
	if !slices.Equal(g.host.kept, []string{"a"}) || g.q.Status().Conflicts != 1 {
		t.Errorf("kept %v, status %+v", g.host.kept, g.q.Status())
	}
	if n := <-g.notes; !strings.Contains(n, "changed on the server") {
		t.Errorf("notice %q", n)
	}
}

// A connection lost in the middle of an upload: the upload is tried
// again and lands whole, the cut try's temporary name gone.
func TestALostConnectionMidUploadIsRetriedAndLandsWhole(t *testing.T) {
	r := newFakeRemote()
	lost := 0
	r.writeErr = func(ctx context.Context, rel string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if lost == 0 {
			lost++
			return remote.ErrConnectionLost
		}
		return nil
	}
	g := newRig(t, r, "")
	defer g.shut()
	g.q.Start()
	g.write("a", strings.Repeat("x", 600<<10)) // three chunks: the first write is cut
	g.syncAll()
	if f, ok := r.get("a"); !ok || len(f.data) != 600<<10 {
		t.Fatalf("on the server: %v", r.names())
	}
	if names := r.names(); !slices.Equal(names, []string{"a"}) {
		t.Errorf("the server holds %v", names)
	}
	if lost != 1 {
		t.Errorf("the connection was lost %d times", lost)
	}
}

// The server's disk is full (SSH_FX_FAILURE, and statvfs says no room):
// the upload fails with ENOSPC, names the file, keeps it in the journal
// and leaves nothing on the server; a sync once there is room uploads it.
func TestAFullServerDiskFailsTheUploadKeepsItAndSyncRetries(t *testing.T) {
	r := newFakeRemote()
	r.avail = 3
	r.closeErr = func(string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.avail < 100 {
			return statusErr{fxFailure}
		}
		return nil
	}
	g := newRig(t, r, "")
	defer g.shut()
	g.q.Start()
	g.write("a", "more than three bytes")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	left := g.q.Sync(ctx)
	if len(left) != 1 || left[0].Path != "/a" || left[0].Err != syscall.ENOSPC.Error() {
		t.Fatalf("not uploaded: %+v", left)
	}
	if n := <-g.notes; !strings.Contains(n, "/a") || !strings.Contains(n, "no space") {
		t.Errorf("notice %q", n)
	}
	if s := g.q.Status(); s.Files != 1 || len(s.Failed) != 1 {
		t.Errorf("status %+v", s)
	}
	for end := time.Now().Add(2 * time.Second); len(r.names()) > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond) // the temporary name is removed in the background
	}
	if names := r.names(); len(names) != 0 {
		t.Errorf("the server holds %v", names)
	}
	r.mu.Lock()
	r.avail = 1 << 20
	r.mu.Unlock()
	g.syncAll()
	if f, ok := r.get("a"); !ok || string(f.data) != "more than three bytes" {
		t.Errorf("not uploaded after sync: %v", r.names())
	}
}

// A crash between the journal's record and the upload's rename: the
// record says the file waits; the next start finds either the cut try's
// temporary name (made again, renamed over the name) or our own file
// already at the name (no conflict), and leaves one copy at the name.
func TestACrashBetweenRecordAndRenameIsResolvedByTheNextStart(t *testing.T) {
	r := newFakeRemote()
	g := newRig(t, r, "")
	cut := g.write("cut", "cut whole")
	renamed := g.write("renamed", "renamed whole")
	// The crash: the first try of cut left part of it at its temporary
	// name; renamed's landed, its record not yet removed.
	r.put(tempName(cut.e), "cu", time.Now())
	r.put("renamed", "renamed whole", time.Unix(0, renamed.e.Mtime))
	g.j.Close() // no Close of the queue: nothing of it runs on

	next := newRig(t, r, g.dir)
	defer next.shut()
	if k, err := next.q.Load(); k != 2 || err != nil {
		t.Fatalf("loaded %d: %v", k, err)
	}
	next.q.Start()
	next.syncAll()
	if names := r.names(); !slices.Equal(names, []string{"cut", "renamed"}) {
		t.Fatalf("the server holds %v", names)
	}
	if f, _ := r.get("cut"); string(f.data) != "cut whole" {
		t.Errorf("cut: %q", f.data)
	}
	if len(next.host.kept) != 0 {
		t.Errorf("taken as a conflict: %v", next.host.kept)
	}
}

// Close while an upload runs and does not end within Close's context: it
// is cut, its temporary name removed, and the file stays in the journal,
// its record whole, for the next mount; every goroutine has ended.
func TestCloseDuringAnUploadLeavesItRecordedForTheNextMount(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newFakeRemote()
	started := make(chan struct{}, 1)
	r.writeErr = func(ctx context.Context, rel string) error {
		started <- struct{}{}
		<-ctx.Done() // a server that does not answer
		return ctx.Err()
	}
	g := newRig(t, r, "")
	g.q.Start()
	g.write("a", "waiting")
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	g.q.Close(ctx)
	select {
	case n := <-g.notes:
		t.Errorf("a notice: %q", n)
	default:
	}
	g.j.Close()
	if es := entriesOf(t, g.dir); !slices.Equal(es, []string{"a"}) {
		t.Errorf("the journal holds %v", es)
	}
	if names := r.names(); len(names) != 0 {
		t.Errorf("the server holds %v", names)
	}
	goroutinesBackTo(t, before)

	r.writeErr = nil
	next := newRig(t, r, g.dir)
	defer next.shut()
	next.q.Load()
	next.q.Start()
	next.syncAll()
	if f, ok := r.get("a"); !ok || string(f.data) != "waiting" {
		t.Errorf("the next mount did not upload it: %v", r.names())
	}
}

// Close waits for an upload that ends within its context: the file is on
// the server and out of the journal.
func TestCloseWaitsForAnUploadThatEndsInTime(t *testing.T) {
	r := newFakeRemote()
	started, release := make(chan struct{}, 1), make(chan struct{})
	r.writeErr = func(ctx context.Context, rel string) error {
		started <- struct{}{}
		<-release
		return nil
	}
	g := newRig(t, r, "")
	g.q.Start()
	g.write("a", "slow")
	<-started
	time.AfterFunc(100*time.Millisecond, func() { close(release) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.q.Close(ctx)
	g.j.Close()
	if f, ok := r.get("a"); !ok || string(f.data) != "slow" {
		t.Errorf("on the server: %v", r.names())
	}
	if es := entriesOf(t, g.dir); len(es) != 0 {
		t.Errorf("the journal holds %v", es)
	}
}
