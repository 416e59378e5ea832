package fs

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
)

// fakeServer is a server's view of one new file: its attributes, and the
// requests that reached it, writes included, in the order they landed.
type fakeServer struct {
	mu         sync.Mutex
	attr       remote.Attr
	data       []byte
	events     []string
	fail       map[string]error // op -> what the server answers
	stats      int
	answer     chan struct{} // nil: writes are answered at once
	statAnswer chan struct{} // nil: fstats are answered at once
	resent     atomic.Uint64
}

func (s *fakeServer) note(op string, apply func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail[op]; err != nil {
		s.events = append(s.events, op+" refused")
		return err
	}
	s.events = append(s.events, op)
	apply()
	return nil
}

func (s *fakeServer) chown(uid, gid uint32) error {
	return s.note(fmt.Sprintf("chown %d:%d", uid, gid), func() { s.attr.UID, s.attr.GID = uid, gid })
}

func (s *fakeServer) chmod(mode os.FileMode) error {
	return s.note(fmt.Sprintf("chmod %o", uint32(mode.Perm())), func() { s.attr.Mode = mode })
}

func (s *fakeServer) chtimes(atime, mtime time.Time) error {
	return s.note(fmt.Sprintf("utimes %d %d", atime.Unix(), mtime.Unix()), func() { s.attr.Atime, s.attr.Mtime = atime, mtime })
}

// stat reads the file when asked and answers when s.statAnswer lets it.
func (s *fakeServer) stat() (remote.Attr, error) {
	s.mu.Lock()
	s.stats++
	a, err := s.attr, s.fail["stat"]
	s.mu.Unlock()
	if s.statAnswer != nil {
		<-s.statAnswer
	}
	return a, err
}

// write lands at once, as on a server that runs requests in the order
// they arrive, and is answered when s.answer (if set) lets it.
func (s *fakeServer) write(p []byte, off int64, sent func()) error {
	err := s.note(fmt.Sprintf("write %d+%d", off, len(p)), func() {
		if end := int(off) + len(p); end > len(s.data) {
			s.data = append(s.data, make([]byte, end-len(s.data))...)
		}
		copy(s.data[off:], p)
	})
	sent()
	if s.answer != nil {
		<-s.answer
	}
	return err
}

func (s *fakeServer) rewrites() uint64 { return s.resent.Load() }

func (s *fakeServer) explain(string) {}

func (s *fakeServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// newFileOn makes a write-only handle of a file just created with perm on
// a server that made it as s.attr, predicted when checked (then the fstat
// after the open answers with s.attr, which may differ from predicted).
func newFileOn(t *testing.T, s *fakeServer, predicted remote.Attr, perm os.FileMode, checked bool) *fileHandle {
	t.Helper()
	node := &Node{fs: testFS()}
	p := newHeldChanges(s, 1, predicted, perm, checked)
	if checked {
		go p.check()
		// The fstat goes right after the open, before anything else:
		// the server reads the file as it was made.
		for asked := 0; asked == 0; time.Sleep(time.Millisecond) {
			s.mu.Lock()
			asked = s.stats
			s.mu.Unlock()
		}
	}
	h := &fileHandle{node: node, rel: "f", held: p}
	h.startBuffers(os.O_WRONLY, s.write, nil)
	node.fs.handles.add(h)
	t.Cleanup(func() { h.flush() })
	return h
}

func write(t *testing.T, h *fileHandle, n int, off int64) {
	t.Helper()
	if _, errno := h.Write(context.Background(), make([]byte, n), off); errno != 0 {
		t.Fatalf("write %d@%d: %v", n, off, errno)
	}
}

func record(t *testing.T, h *fileHandle, c change) {
	t.Helper()
	if _, ok := h.held.record(c, remote.Attr{}); !ok {
		t.Fatalf("change %+v not held back", c)
	}
}

func ptr[T any](v T) *T { return &v }

// rootFile is what OpenSSH's sftp-server, run as root with umask 022,
// makes of a new file.
var rootFile = remote.Attr{Mode: 0644, Atime: time.Unix(1000, 0), Mtime: time.Unix(1000, 0)}

// GNU tar as root: create 0600, write, futimens (mtime only), fchown to
// the owner the file has, fchmod 0644, close. One request after the data,
// setting the times; the mode and owner are already right on the server.
func TestTarsAttributesAreOneRequestAfterTheData(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	write(t, h, 2048, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0))})
	record(t, h, change{uid: ptr(uint32(0)), gid: ptr(uint32(0))})
	record(t, h, change{mode: ptr(os.FileMode(0644))})
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.seen(), []string{"write 0+2048", "utimes 1000 5000"}; !slices.Equal(got, want) {
		t.Fatalf("server saw %q, want %q", got, want)
	}
}

// The same untar, with the file's own mode 0600 and another owner: owner
// and mode go first, then the data, then the times.
func TestAPrivateFileGetsItsModeAndOwnerBeforeAnyData(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	write(t, h, 2048, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0))})
	record(t, h, change{uid: ptr(uint32(7)), gid: ptr(uint32(8))})
	record(t, h, change{mode: ptr(os.FileMode(0600))})
	if got := s.seen(); len(got) != 0 {
		t.Fatalf("sent before close: %q", got)
	}
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	got := s.seen()
	first := got[:2]
	slices.Sort(first)
	if want := []string{"chmod 600", "chown 7:8", "write 0+2048", "utimes 1000 5000"}; !slices.Equal(first, want[:2]) || !slices.Equal(got[2:], want[2:]) {
		t.Fatalf("server saw %q, want %q (the first two in any order)", got, want)
	}
}

func TestAChownTheServerRefusesIsReportedAtCloseAndAgainAfter(t *testing.T) {
	s := &fakeServer{attr: rootFile, fail: map[string]error{"chown 7:7": syscall.EPERM}}
	h := newFileOn(t, s, rootFile, 0644, false)
	write(t, h, 100, 0)
	record(t, h, change{uid: ptr(uint32(7)), gid: ptr(uint32(7))})
	if err := h.flush(); err != syscall.EPERM {
		t.Fatalf("close: %v, want EPERM", err)
	}
	if err := h.flush(); err != syscall.EPERM {
		t.Fatalf("second close: %v, want EPERM again", err)
	}
	if _, errno := h.Write(context.Background(), []byte("x"), 100); errno != syscall.EPERM {
		t.Fatalf("write after: %v, want EPERM", errno)
	}
	if _, ok := h.held.record(change{mode: ptr(os.FileMode(0600))}, remote.Attr{}); ok {
		t.Fatal("a change after the failure was held back: it must go at once, after the error")
	}
	if !slices.Contains(s.seen(), "write 0+100") {
		t.Fatalf("the data was not written: %q", s.seen())
	}
}

func TestDataIsNotSentWhenTheModeThatHidesItCannotBeSet(t *testing.T) {
	s := &fakeServer{attr: rootFile, fail: map[string]error{"chmod 600": syscall.EROFS}}
	h := newFileOn(t, s, rootFile, 0600, false)
	write(t, h, 100, 0)
	if err := h.flush(); err != syscall.EROFS {
		t.Fatalf("close: %v, want EROFS", err)
	}
	for _, e := range s.seen() {
		if strings.HasPrefix(e, "write") {
			t.Fatalf("data sent to a file more exposed than asked: %q", s.seen())
		}
	}
}

// On a local disk a write after futimens moves the mtime again: the
// times go before that write.
func TestAWriteAfterSettingTimesLandsAfterThem(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0644, false)
	write(t, h, 10, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0)), atime: ptr(time.Unix(6000, 0))})
	write(t, h, 10, 10)
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.seen(), []string{"write 0+10", "utimes 6000 5000", "write 10+10"}; !slices.Equal(got, want) {
		t.Fatalf("server saw %q, want %q", got, want)
	}
}

// A big file created 0600: the data waits at the gate only up to
// holdLimit, then the mode is set and the data flows, before close.
func TestHeldDataGoesOnceItPassesTheHoldLimit(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	const chunk = 64 << 10
	for i := 0; i*chunk <= holdLimit; i++ {
		write(t, h, chunk, int64(i*chunk))
	}
	if got := s.seen(); len(got) == 0 || got[0] != "chmod 600" {
		t.Fatalf("past the hold limit the server saw %q, want the chmod first", got)
	}
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if len(s.data) != holdLimit+chunk {
		t.Fatalf("server has %d bytes, want %d", len(s.data), holdLimit+chunk)
	}
}

// Write-behind waits for a write in flight over the same bytes: one held
// at the gate must not make a rewrite wait forever.
func TestRewritingHeldBytesDoesNotHang(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		write(t, h, 100, 0)
		write(t, h, 100, 50)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the rewrite hangs")
	}
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
}

// answerOnce closes ch once the server has seen a request starting with
// op: what is answered then was not waited for before op was sent.
func answerOnce(t *testing.T, s *fakeServer, op string, ch chan struct{}) {
	go func() {
		defer close(ch)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if slices.ContainsFunc(s.seen(), func(e string) bool { return strings.HasPrefix(e, op) }) {
				return
			}
		}
		t.Errorf("the server never saw %s", op)
	}()
}

// The server makes new files in a directory with a default ACL 0664 and
// its group: the prediction (0644, root's group) was wrong, so close sets
// the mode asked for, and leaves the group the server chose. The times
// went out before the fstat answered, with the atime guessed: they are
// sent again with the server's.
func TestAWrongPredictionIsCorrectedByClose(t *testing.T) {
	s := &fakeServer{attr: remote.Attr{Mode: 0664, GID: 50, Atime: time.Unix(2000, 0)}, statAnswer: make(chan struct{})}
	predicted := rootFile
	predicted.Atime = time.Unix(1500, 0)
	h := newFileOn(t, s, predicted, 0644, true)
	write(t, h, 10, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0))})
	answerOnce(t, s, "utimes", s.statAnswer)
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	got := s.seen()
	slices.Sort(got[2:])
	if want := []string{"write 0+10", "utimes 1500 5000", "chmod 644", "utimes 2000 5000"}; !slices.Equal(got, want) {
		t.Fatalf("server saw %q, want %q (the last two in any order)", got, want)
	}
	if s.attr.GID != 50 || s.attr.Mode != 0644 || s.attr.Atime.Unix() != 2000 || s.attr.Mtime.Unix() != 5000 {
		t.Fatalf("server has %+v", s.attr)
	}
}

// When the fstat has answered by close, the changes are decided on it.
func TestAWrongPredictionKnownByCloseIsCorrectedAtOnce(t *testing.T) {
	s := &fakeServer{attr: remote.Attr{Mode: 0664, GID: 50, Atime: time.Unix(2000, 0)}}
	h := newFileOn(t, s, rootFile, 0644, true)
	<-h.held.checked
	write(t, h, 10, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0))})
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	got := s.seen()
	slices.Sort(got[1:])
	if want := []string{"write 0+10", "chmod 644", "utimes 2000 5000"}; !slices.Equal(got, want) {
		t.Fatalf("server saw %q, want %q (the last two in any order)", got, want)
	}
}

// Close costs one round trip: the times go out right behind the data,
// before the server has answered the write (a server that runs requests
// in order applies them after it).
func TestTarsTimesGoOutBeforeItsDataIsAnswered(t *testing.T) {
	s := &fakeServer{attr: rootFile, answer: make(chan struct{})}
	h := newFileOn(t, s, rootFile, 0600, false)
	write(t, h, 2048, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0))})
	record(t, h, change{mode: ptr(os.FileMode(0644))})
	answerOnce(t, s, "utimes", s.answer)
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.seen(), []string{"write 0+2048", "utimes 1000 5000"}; !slices.Equal(got, want) {
		t.Fatalf("server saw %q, want %q", got, want)
	}
}

// A connection lost while the write was out: the write is sent again on
// the new one, maybe after the times, so the times are sent again after it.
func TestTimesAreSentAgainWhenAWriteWasSentAgainAfterThem(t *testing.T) {
	s := &fakeServer{attr: rootFile, answer: make(chan struct{})}
	h := newFileOn(t, s, rootFile, 0644, false)
	write(t, h, 100, 0)
	record(t, h, change{mtime: ptr(time.Unix(5000, 0))})
	go func() {
		for !slices.Contains(s.seen(), "utimes 1000 5000") {
			time.Sleep(time.Millisecond)
		}
		s.resent.Add(1)
		close(s.answer)
	}()
	if err := h.flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.seen(), []string{"write 0+100", "utimes 1000 5000", "utimes 1000 5000"}; !slices.Equal(got, want) {
		t.Fatalf("server saw %q, want %q", got, want)
	}
}

func TestAChangeThatWouldExposeFlowingDataIsNotHeldBack(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0644, false)
	write(t, h, 10, 0)
	if _, ok := h.held.record(change{mode: ptr(os.FileMode(0600))}, remote.Attr{}); ok {
		t.Fatal("chmod 0600 held back while data goes to the 0644 file")
	}
	if _, ok := h.held.record(change{atime: ptr(time.Unix(1, 0))}, remote.Attr{}); ok {
		t.Fatal("an atime alone held back: the mtime to send with it is not known")
	}
	if _, ok := h.held.record(change{mode: ptr(os.FileMode(0755))}, remote.Attr{}); !ok {
		t.Fatal("chmod 0755 not held back")
	}
	setuid := newFileOn(t, &fakeServer{attr: rootFile}, rootFile, 0755|os.ModeSetuid, false)
	if _, ok := setuid.held.record(change{uid: ptr(uint32(7))}, remote.Attr{}); ok {
		t.Fatal("chown of a setuid file held back: it must clear the bit after the chmod")
	}
}

func TestExposesNoMore(t *testing.T) {
	for _, c := range []struct {
		server, want os.FileMode
		sgid, wgid   uint32
		ok           bool
	}{
		{0644, 0644, 0, 0, true},
		{0644, 0600, 0, 0, false},
		{0644, 0640, 0, 0, false},
		{0640, 0600, 0, 0, false},
		{0640, 0640, 0, 9, false}, // the server's group would read what only group 9 may
		{0640, 0644, 0, 9, true},  // ... unless everyone may
		{0600, 0000, 0, 9, true},  // the owner is the SFTP user: not counted
		{0644, 0755, 0, 0, true},
	} {
		got := exposesNoMore(remote.Attr{Mode: c.server, GID: c.sgid}, remote.Attr{Mode: c.want, GID: c.wgid})
		if got != c.ok {
			t.Errorf("server %o gid %d, wanted %o gid %d: %v, want %v", c.server, c.sgid, c.want, c.wgid, got, c.ok)
		}
	}
}

// Under load the shared buffer budget is spent by other files' transfers,
// and a write then goes unbuffered, on the kernel request's own thread.
// Were it to wait at a new file's closed gate it would wait for ever: only
// the same process's chmod, more data or close opens the gate, and that
// process is blocked in this write (the soak's tar processes stuck in
// request_wait_answer). The write must open the gate itself (mode first).
func TestAnUnbufferedWriteAtAClosedGateDoesNotWaitForItsOwnClose(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	budget := h.node.fs.buffers
	spent := budget.Left()
	budget.TryTake(spent) // other files' read-ahead and writes hold it all
	defer budget.Give(spent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		write(t, h, 100, 0)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an unbuffered write of a new file waited at its gate for its own close")
	}
	if got := s.seen(); len(got) < 2 || got[0] != "chmod 600" || got[1] != "write 0+100" {
		t.Fatalf("the server saw %q, want the mode before the data", got)
	}
}

// Another process reading a new file whose data is held at its gate waits
// for that data to land (so it reads it): the gate must open for it, not
// wait for the creator's close.
func TestAReadOfDataHeldAtAGateDoesNotWaitForTheCreatorsClose(t *testing.T) {
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	write(t, h, 100, 0) // held: the server's 0644 shows more than 0600
	reader := &fileHandle{node: h.node, rel: "f"}
	reader.startBuffers(os.O_RDONLY, nil, func(p []byte, off int64) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return copy(p, s.data[min(int(off), len(s.data)):]), nil
	})
	reader.register(os.O_RDONLY)
	got := make(chan int, 1)
	go func() {
		res, _ := reader.Read(context.Background(), make([]byte, 100), 0)
		got <- res.Size()
	}()
	select {
	case n := <-got:
		if n != 100 {
			t.Fatalf("read %d bytes of the 100 written", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read of data held at a new file's gate waited for its creator's close")
	}
	if seen := s.seen(); len(seen) < 2 || seen[0] != "chmod 600" {
		t.Fatalf("the server saw %q, want the mode before the data", seen)
	}
}

// Held data waits for its creator's chmod or close at most gateWait: a
// program that writes a little and then keeps the file open for an hour
// does not keep it back for an hour (nor what waits on it).
func TestHeldDataGoesOnceTheGateWaitHasPassed(t *testing.T) {
	defer func(old time.Duration) { gateWait = old }(gateWait)
	gateWait = 100 * time.Millisecond
	s := &fakeServer{attr: rootFile}
	h := newFileOn(t, s, rootFile, 0600, false)
	write(t, h, 100, 0)
	deadline := time.Now().Add(5 * time.Second)
	for len(s.seen()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := s.seen(); len(got) < 2 || got[0] != "chmod 600" || got[1] != "write 0+100" {
		t.Fatalf("after the gate wait the server saw %q, want the mode and then the data", got)
	}
}

// The gate wait running out while close settles the file (which holds the
// record's lock while it waits for this very write, after opening the
// gate) must not deadlock.
func TestTheGateWaitRunningOutDuringCloseDoesNotDeadlock(t *testing.T) {
	defer func(old time.Duration) { gateWait = old }(gateWait)
	gateWait = 20 * time.Millisecond
	for i := 0; i < 50; i++ {
		s := &fakeServer{attr: rootFile}
		h := newFileOn(t, s, rootFile, 0600, false)
		write(t, h, 100, 0)
		time.Sleep(time.Duration(i%25) * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- h.flush() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: close and the gate wait deadlocked", i)
		}
	}
}
