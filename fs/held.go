package fs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// A file that Create made new (O_EXCL) and opened write-only, as tar and
// cp -n do, collects what its creator asks to change about it (chmod,
// chown, utimes) instead of sending each change at once: tar's futimens,
// fchown and fchmod would cost a round trip each, and the futimens a
// second one for the atime it leaves alone. The changes go out together
// once the file's data has landed, and FLUSH (close) waits for them:
// close and fsync still return only once data and attributes are on the
// server, with the first error any of them met. What the application sees
// differently is only when an error shows: an EPERM from chown comes at
// close (or at fsync, or at the next write) instead of at the chown.
//
// Data never reaches the server in a file more open to others than the
// application has asked for: a file created 0600 on a server that makes
// new files 0644 holds its data back (the gate) until the application
// widens the mode itself, as tar does once it has set the owner, or until
// the mode has been set on the server. If that fails, the data is not
// sent at all and the writes fail with the error.

// holdLimit bounds the bytes held at a closed gate: one more and the mode
// is sent so that they can go. It is below the write-behind limit, so a
// write never waits for room that only the gate could free.
const holdLimit = 256 << 10

// attrSender applies attribute changes to one file on the server. Its
// errors are errnos already (see remoteAttrs).
type attrSender interface {
	chown(uid, gid uint32) error
	chmod(mode os.FileMode) error
	chtimes(atime, mtime time.Time) error
	stat() (remote.Attr, error) // what the server has now
	rewrites() uint64           // writes sent again after a lost connection (remote.File.Rewrites)
	explain(why string)         // says under -d why a change is sent again
}

// heldChanges is the state of one new file's changes not yet sent.
type heldChanges struct {
	send attrSender
	pid  uint32 // the process that created the file: only its changes wait

	// The answer of the fstat made after a predicted create (see
	// newfile.go), written before checked is closed.
	checked   chan struct{} // nil once read, or when server came from an fstat already
	checkAttr remote.Attr
	checkErr  error

	// turn is a lock (a token sent to take it, received to give it
	// back) that guards what follows. It is held while changes are sent,
	// one batch at a time, across their round trips and the wait for the
	// writes before them: a channel, so that a write that waits for it
	// can also wait for the gate (letDataGoUnlessHeld).
	turn chan struct{}

	server remote.Attr // what the server has, or is predicted to have (known false)
	known  bool

	want remote.Attr // what the application asked for (the mode always: Create's)
	// Which parts of want are still to be sent.
	setMode, setOwner, setAtime, setMtime bool

	gate      chan struct{} // closed once writes may go to the server
	gateErr   error         // set before gate is closed: why writes must fail instead
	open      bool          // gate is closed
	heldBytes int64         // bytes of the writes waiting at the gate
	heldEnd   int64         // where the furthest of them ends

	err error // the first change that failed; every later flush reports it
}

// newHeldChanges starts the record of a new file that the server has, or is
// predicted to have until check runs (checked), as server; its creator
// wants it with permissions perm.
func newHeldChanges(send attrSender, pid uint32, server remote.Attr, perm os.FileMode, checked bool) *heldChanges {
	p := &heldChanges{send: send, pid: pid, server: server, known: !checked, gate: make(chan struct{}), turn: make(chan struct{}, 1)}
	if checked {
		p.checked = make(chan struct{})
	}
	p.want = server
	p.want.Mode = server.Mode&os.ModeType | perm
	p.setMode = true
	if exposesNoMore(p.server, p.want) {
		p.openGate()
	}
	return p
}

// check records the server's answer to an fstat. It runs once, in the
// background, while the application writes.
func (p *heldChanges) check() {
	p.checkAttr, p.checkErr = p.send.stat()
	close(p.checked)
}

// learnServer replaces the predicted attributes by the server's own,
// waiting for check; had check failed, it asks once more.
func (p *heldChanges) learnServer() error {
	if p.checked != nil {
		<-p.checked
		p.checked = nil
		if p.checkErr == nil {
			p.merge(p.checkAttr)
		}
	}
	if p.known {
		return nil
	}
	a, err := p.send.stat()
	if err != nil {
		return err
	}
	p.merge(a)
	return nil
}

// merge takes what the server has. Size and mtime are left out: our own
// writes change them, and nothing here compares them.
func (p *heldChanges) merge(a remote.Attr) {
	p.server.Mode, p.server.UID, p.server.GID, p.server.Atime = a.Mode, a.UID, a.GID, a.Atime
	p.known = true
	if !p.setOwner {
		p.want.UID, p.want.GID = a.UID, a.GID
	}
}

func (p *heldChanges) openGate() {
	if !p.open {
		p.open = true
		close(p.gate)
	}
}

// gateWait bounds how long held data waits for its creator to make the
// mode right: then the mode is sent and the data follows, as it would at
// close. No wait in the mount is without a bound, this one included.
var gateWait = 5 * time.Second

// waitLimit bounds a wait for queued writes (cache.WriteBehind.MaxWait):
// each is a remote call under -o timeout, tried again once on a new
// connection, perhaps after the gate's wait. Past it, the kernel request
// fails with ETIMEDOUT rather than hang.
func (f *FS) waitLimit() time.Duration {
	if f.opts.Timeout <= 0 {
		return 0
	}
	return 2*f.opts.Timeout + gateWait
}

// waitGate holds a write on its way to the server until it may go, at
// most gateWait, and returns why it must not, if so.
func (p *heldChanges) waitGate() error {
	t := time.NewTimer(gateWait)
	defer t.Stop()
	select {
	case <-p.gate:
		return p.gateErr
	case <-t.C:
	}
	p.letDataGoUnlessHeld()
	return p.gateErr
}

func (p *heldChanges) lock()   { p.turn <- struct{}{} }
func (p *heldChanges) unlock() { <-p.turn }

// letDataGoUnlessHeld opens the gate itself, unless whoever holds the
// lock does: settle holds it while it waits for this very write, after
// opening the gate. A plain lock here would wait for settle while settle
// waits for this write, until settle's deadline; so it waits for either
// the lock or the gate. (It used to poll TryLock every 5 ms, a sync.Mutex
// having no way to be waited for beside a channel.)
func (p *heldChanges) letDataGoUnlessHeld() {
	select {
	case p.turn <- struct{}{}:
	case <-p.gate:
		return
	}
	defer p.unlock()
	p.letDataGoLocked()
}

// exposesNoMore reports whether the server's mode and owner let nobody at
// data whom the wanted ones leave out. The owner class is not compared:
// the file is the SFTP user's, who sends the data anyway. The server's
// group counts as others when it is not the wanted group.
func exposesNoMore(server, want remote.Attr) bool {
	s, w := sysMode(server.Mode), sysMode(want.Mode)
	if s&0007&^w != 0 || s&(syscall.S_ISUID|syscall.S_ISGID)&^w != 0 {
		return false
	}
	group := w & 0070
	if server.GID != want.GID {
		group = (w & 0007) << 3
	}
	return s&0070&^group == 0
}

// change is one Setattr that may wait, in the server's ids.
type change struct {
	mode         *os.FileMode // permissions, never with setuid or setgid (see deferSetattr)
	uid, gid     *uint32
	atime, mtime *time.Time
}

// record adds c to what is pending and returns the attributes the file
// will have, built on cur (the cached ones, for the size). It refuses:
//   - after a failure (the application has the error to see first);
//   - an atime alone, since SFTP sets both times and the mtime is the
//     server's to tell once the data has landed;
//   - a change that leaves the server's file more exposed than wanted
//     while data is flowing: that change must land before more data;
//   - a chown of a file created setuid or setgid: the server clears the
//     bits at a chown, as a local disk does, so it must come after them.
func (p *heldChanges) record(c change, cur remote.Attr) (remote.Attr, bool) {
	p.lock()
	defer p.unlock()
	if p.err != nil || (c.atime != nil && c.mtime == nil && !p.setMtime) {
		return remote.Attr{}, false
	}
	if (c.uid != nil || c.gid != nil) && p.want.Mode&(os.ModeSetuid|os.ModeSetgid) != 0 {
		return remote.Attr{}, false
	}
	w := p.want
	if c.mode != nil {
		w.Mode = w.Mode&os.ModeType | *c.mode
	}
	if c.uid != nil {
		w.UID = *c.uid
	}
	if c.gid != nil {
		w.GID = *c.gid
	}
	if c.atime != nil {
		w.Atime = time.Unix(c.atime.Unix(), 0)
	}
	if c.mtime != nil {
		w.Mtime = time.Unix(c.mtime.Unix(), 0)
	}
	safe := exposesNoMore(p.server, w)
	if p.open && !safe {
		return remote.Attr{}, false
	}
	p.want = w
	p.setMode = p.setMode || c.mode != nil
	p.setOwner = p.setOwner || c.uid != nil || c.gid != nil
	p.setAtime = p.setAtime || c.atime != nil
	p.setMtime = p.setMtime || c.mtime != nil
	if safe {
		p.openGate()
	}
	cur.Mode, cur.UID, cur.GID = w.Mode, w.UID, w.GID
	if p.setAtime {
		cur.Atime = w.Atime
	}
	if p.setMtime {
		cur.Mtime = w.Mtime
	}
	return cur, true
}

// writes is what settling needs of a handle's queued writes
// (cache.WriteBehind).
type writes interface {
	WaitSent() error // every write gone out: what is sent next lands after them
	Flush() error    // every write answered; the first error
}

// admit runs before a write is queued and returns an error kept for the
// application, if any. Times set before the write must reach the server
// first (the write moves the mtime, as on a local disk): settle. A write
// that the gate would hold past holdLimit, or that overlaps one held
// (write-behind would wait for that one), has the gate opened first.
func (p *heldChanges) admit(off int64, n int, w writes) error {
	p.lock()
	defer p.unlock()
	if p.err != nil {
		return p.err
	}
	if p.setAtime || p.setMtime {
		return p.settleLocked(w)
	}
	if !p.open && (off < p.heldEnd || p.heldBytes+int64(n) > holdLimit) {
		p.letDataGoLocked()
	}
	if !p.open {
		p.heldBytes += int64(n)
		p.heldEnd = max(p.heldEnd, off+int64(n))
	}
	return p.gateErr
}

// settle sends everything pending: first what the gate waits for, then,
// once every queued write has gone out, the rest, and waits for all of it.
// It returns the first error, the writes' before the changes'.
func (p *heldChanges) settle(w writes) error {
	p.lock()
	defer p.unlock()
	return p.settleLocked(w)
}

// settleLocked sends the changes right behind the writes instead of after
// their answers: a server that runs requests in order (remote/ordered.go)
// applies the times after the data, and close costs one round trip, not
// two. The changes are decided on the predicted attributes when the fstat
// after a predicted create has not answered yet; should it show another
// mode or owner, what was asked is sent again. Should a write have been
// sent again after a lost connection, or a connection been made again at
// all during the settle, perhaps after the times, the times are sent again
// once every write is answered.
func (p *heldChanges) settleLocked(w writes) error {
	// From here on: a write may be sent only on a connection made again
	// after the changes went (its first try failed, or found the session
	// dead), and then land after them.
	rewrites := p.send.rewrites()
	p.letDataGoLocked()
	if err := w.WaitSent(); err != nil {
		// Nothing is sent ahead of writes still queued, nor given
		// up: the next settle (release's) tries again.
		return err
	}
	p.learnArrived()
	var guess *remote.Attr
	if p.checked != nil {
		g := p.server
		guess = &g
	} else if err := p.learnServer(); err != nil {
		p.fail(err)
		if werr := w.Flush(); werr != nil {
			return werr
		}
		return p.err
	}
	askedOwner, askedAtime, askedMtime := p.setOwner, p.setAtime, p.setMtime
	p.sendLocked(true)
	werr := w.Flush()
	if guess != nil {
		p.verifyGuess(*guess, askedOwner, askedMtime && !askedAtime)
	}
	if p.send.rewrites() != rewrites && (askedAtime || askedMtime) && p.err == nil {
		p.setAtime, p.setMtime = askedAtime, askedMtime
		p.sendLocked(true)
	}
	if werr != nil {
		return werr
	}
	return p.err
}

// learnArrived takes the answer of the fstat after a predicted create if
// it is there, without waiting for it.
func (p *heldChanges) learnArrived() {
	if p.checked == nil {
		return
	}
	select {
	case <-p.checked:
		p.checked = nil
		if p.checkErr == nil {
			p.merge(p.checkAttr)
		}
	default:
	}
}

// verifyGuess waits for the fstat after a predicted create. If the server
// made the file otherwise than guessed, the wanted mode (and owner, if
// asked for) is sent again on what it really has; if the times went out
// with a guessed atime (the application set the mtime only) that is not
// the server's, they are sent again with the server's.
func (p *heldChanges) verifyGuess(guess remote.Attr, askedOwner, atimeGuessed bool) {
	after := p.server
	p.setOwner = askedOwner // so that learning keeps the wanted owner
	if err := p.learnServer(); err != nil {
		p.setOwner = false
		p.fail(err)
		return
	}
	modeRight := p.server.Mode == guess.Mode && p.server.UID == guess.UID && p.server.GID == guess.GID
	atimeRight := !atimeGuessed || p.server.Atime.Equal(guess.Atime)
	if modeRight {
		// What was sent stands: the fstat predates it.
		p.server.Mode, p.server.UID, p.server.GID = after.Mode, after.UID, after.GID
		p.setOwner = false
	} else {
		p.setMode = true
	}
	if atimeRight {
		p.server.Atime = after.Atime
	} else {
		p.setMtime = true // with the server's atime, as the application left it
		p.send.explain("utimens again, the atime guessed at create was not the server's")
	}
	if !modeRight || !atimeRight {
		p.sendLocked(!atimeRight)
	}
}

// letDataGo opens the gate, for a write or read that cannot wait.
func (p *heldChanges) letDataGo() {
	p.lock()
	defer p.unlock()
	p.letDataGoLocked()
}

// letDataGoLocked opens the gate. While the server's file is more exposed
// than wanted, the wanted owner and mode are sent first; if it stays so
// (a change failed), the gate opens on that error and the held writes
// fail with it, unsent.
func (p *heldChanges) letDataGoLocked() {
	if p.open {
		return
	}
	if err := p.learnServer(); err != nil {
		p.fail(err)
		p.gateErr = err
	} else if !exposesNoMore(p.server, p.want) {
		p.sendLocked(false)
		if !exposesNoMore(p.server, p.want) {
			p.gateErr = p.err
		}
	}
	p.openGate()
}

// sendLocked sends what the application wants and the server lacks: owner
// and mode, and the times too with times. They go together, in one round
// trip, since a server applies chmod and chown in either order to the same
// end while the mode has no setuid or setgid bit, and neither touches the
// times. A chown to the owner the file has is not sent (nor, as on a local
// disk, needed: the mode has no setuid or setgid bit to clear). Each change
// is tried once: a failure is kept and reported, not sent again.
func (p *heldChanges) sendLocked(times bool) {
	var jobs []func() error
	var done []func()
	if p.setOwner && (p.want.UID != p.server.UID || p.want.GID != p.server.GID) {
		uid, gid := p.want.UID, p.want.GID
		jobs = append(jobs, func() error { return p.send.chown(uid, gid) })
		done = append(done, func() { p.server.UID, p.server.GID = uid, gid })
	}
	p.setOwner = false
	if p.setMode && p.want.Mode != p.server.Mode {
		mode := p.want.Mode
		jobs = append(jobs, func() error { return p.send.chmod(mode &^ os.ModeType) })
		done = append(done, func() { p.server.Mode = mode })
	}
	p.setMode = false
	if times && (p.setAtime || p.setMtime) {
		atime, mtime := p.want.Atime, p.want.Mtime
		if !p.setAtime {
			atime = p.server.Atime
		}
		jobs = append(jobs, func() error { return p.send.chtimes(atime, mtime) })
		done = append(done, func() { p.server.Atime, p.server.Mtime = atime, mtime })
		p.setAtime, p.setMtime = false, false
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = job() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			p.fail(err)
		} else {
			done[i]()
		}
	}
}

func (p *heldChanges) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// deferrable are the Setattr fields a new file's handle may hold back:
// not a size (it must stay in order with the writes), not a time "now"
// (the server's clock should say), not a call through a handle
// (ftruncate), nothing unknown.
const deferrable = fuse.FATTR_MODE | fuse.FATTR_UID | fuse.FATTR_GID | fuse.FATTR_ATIME | fuse.FATTR_MTIME

// deferSetattr hands a chmod, chown or utimes of a file made by createNew
// to its handle, which sends it with the data at close (above),
// and answers with the attributes the file will have. It declines (false)
// when the file has another handle open, when the caller is not the
// process that created it (the error would reach the wrong process's
// close), for a setuid or setgid mode, and for a chown of a file with one
// (the server clears the bits at a chown: it must come first, or last).
func (n *Node) deferSetattr(ctx context.Context, r attrRequest, out *fuse.AttrOut) bool {
	if r.valid&^deferrable != 0 {
		return false
	}
	hs := n.openHandles()
	if len(hs) != 1 || hs[0].held == nil || n.unlinked() {
		return false
	}
	h := hs[0]
	caller, ok := ctx.(*fuse.Context)
	if !ok || !sameProcess(caller.Pid, h.held.pid) {
		return false
	}
	rel := n.rel()
	cur, ok := n.fs.attrs.Get(rel)
	if !ok {
		return false
	}
	if r.perm != nil && *r.perm&(os.ModeSetuid|os.ModeSetgid) != 0 {
		return false
	}
	if r.ownerErr != 0 {
		return false // the setattr itself says so
	}
	c := change{mode: r.perm, uid: r.uid, gid: r.gid}
	if t, ok := r.mtime(); ok {
		c.mtime = &t
	}
	if t, ok := r.atime(); ok {
		c.atime = &t
	}
	if n.fs.opts.Owner.check(cur) != 0 {
		return false // the setattr itself says so
	}
	a, ok := h.held.record(c, cur)
	if !ok {
		return false
	}
	n.fs.attrIs(rel, a)
	n.fs.fillAttrOut(rel, a, out) // its owner is checked above
	out.SetTimeout(0)             // not on the server yet: see createNew
	return true
}

// sameProcess reports whether threads a and b (FUSE names the calling
// thread) belong to one process.
func sameProcess(a, b uint32) bool {
	if a == b {
		return true
	}
	ta, ok := threadGroup(a)
	tb, ok2 := threadGroup(b)
	return ok && ok2 && ta == tb
}

// threadGroup is the process id of thread tid, from /proc; false when the
// thread is gone.
func threadGroup(tid uint32) (string, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return "", false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Tgid:"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
