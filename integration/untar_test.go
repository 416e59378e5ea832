//go:build linux

package integration

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// treeTar makes a tar of files with every kind of mode and owner tar sets
// one by one, and distinct mtimes, and returns its path.
func treeTar(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sh(t, dir, `mkdir -p src/d1/sub src/d2 && cd src
		for i in $(seq 1 12); do head -c $((i * 300)) /dev/urandom > d1/f$i; done
		: > d1/empty && echo deep > d1/sub/deep && head -c 100000 /dev/urandom > d2/big
		chmod 0600 d1/f1; chmod 0755 d1/f2; chmod 0640 d1/f3; chmod 4755 d1/f4; chmod 2750 d1/f5
		chmod 0444 d1/f6; chmod 0700 d1/sub; chmod 0750 d2
		chown 1234:5678 d1/f1 d1/f5 d1/f7; chown `+testUser+` d1/f8 d2/big
		n=0; for f in $(find . -mindepth 1 | sort -r); do n=$((n + 1)); touch -h -d @$((1000000000 + n * 86399)) $f; done
		tar -cf ../tree.tar .`)
	return filepath.Join(dir, "tree.tar")
}

// described lists every name below dir with its size, mode, owner, mtime
// in seconds, and a file's bytes, one line each, sorted.
func described(t *testing.T, dir string) string {
	t.Helper()
	return sh(t, dir, `find . -mindepth 1 | sort | while read -r f; do
		echo "$(stat -c '%n %s %a %u %g %Y' "$f") $( [ -f "$f" ] && sha256sum < "$f" | cut -c1-16)"; done`)
}

// GNU tar as root, through the mount: the served directory ends with
// exactly what a local extraction gives, and the mount shows it too.
func TestUntarLeavesTheBytesModesOwnersAndMtimesTarAskedFor(t *testing.T) {
	m := mount(t)
	tarball := treeTar(t)
	ref := t.TempDir()
	sh(t, ref, "tar -xpf "+tarball)
	sh(t, m.mnt, "mkdir x && tar -xpf "+tarball+" -C x")
	want := described(t, ref)
	if got := described(t, filepath.Join(m.remote, "x")); got != want {
		t.Fatalf("served directory after untar:\n%s\nlocal extraction:\n%s", got, want)
	}
	if got := described(t, filepath.Join(m.mnt, "x")); got != want {
		t.Fatalf("mount after untar shows:\n%s\nlocal extraction:\n%s", got, want)
	}
}

// What tar's futimens, fchown and fchmod cost: one utimes per file, sent
// with the data; a chown and a chmod to what the file already has, none.
func TestUntarSendsOneRequestForTheAttributesOfEachFile(t *testing.T) {
	_, log, m := startForeground(t)
	src := t.TempDir()
	sh(t, src, "mkdir t && for i in $(seq 1 10); do echo $i > t/f$i; done && touch -d @1000000000 t/* && tar -cf t.tar t")
	sh(t, m.mnt, "tar -xpf "+src+"/t.tar")
	for i := 1; i <= 10; i++ {
		file := filepath.Join(m.remote, "t", "f"+strconv.Itoa(i))
		calls := regexp.MustCompile(`  sftp (\w+) `+regexp.QuoteMeta(file)+`:`).FindAllStringSubmatch(log.String(), -1)
		var ops []string
		for _, c := range calls {
			ops = append(ops, c[1])
		}
		seen := strings.Join(ops, " ")
		if strings.Count(seen, "utimens") != timesSent(log.String(), "/t/f"+strconv.Itoa(i)) || strings.Contains(seen, "chmod") || strings.Contains(seen, "chown") || strings.Contains(seen, "lstat") {
			t.Errorf("%s: remote calls %q, want one futimens (through the handle) and no chmod, chown or lstat", file, seen)
		}
		if fi := statInfo(t, file); fi.ModTime().Unix() != 1000000000 || fi.Mode().Perm() != 0644 {
			t.Errorf("%s on the server: mtime %d mode %v", file, fi.ModTime().Unix(), fi.Mode())
		}
	}
}

// A new file's attributes go out right behind its data, not after the
// data's answer, so close costs one round trip: with 100 ms round trips,
// the utimes of each file tar extracts is sent before that file's write
// is answered (sent after it, it would start once the write is done), and
// the server, which runs them in order, still ends with tar's mtime.
func TestANewFilesAttributesGoOutBeforeItsDataIsAnswered(t *testing.T) {
	link := newSlowLink(t, 100)
	_, log, m := startForegroundWith(t, link.args())
	src := t.TempDir()
	sh(t, src, "mkdir t && for i in $(seq 1 5); do echo $i > t/f$i; done && touch -d @1000000000 t/* && tar -cf t.tar t")
	sh(t, m.mnt, "tar -xpf "+src+"/t.tar")
	for i := 1; i <= 5; i++ {
		file := filepath.Join(m.remote, "t", "f"+strconv.Itoa(i))
		write, utimes := remoteCalls(t, log.String(), "write", file, 1), remoteCalls(t, log.String(), "futimens", file, timesSent(log.String(), "/t/f"+strconv.Itoa(i)))
		if !utimes.start.Before(write.end) {
			t.Errorf("%s: utimens sent at %s, after the write was answered at %s", file, utimes.start.Format(logTime), write.end.Format(logTime))
		}
		if fi := statInfo(t, file); fi.ModTime().Unix() != 1000000000 {
			t.Errorf("%s on the server: mtime %d, want tar's 1000000000", file, fi.ModTime().Unix())
		}
	}
}

// logTime is how the -d log stamps its lines.
const logTime = "15:04:05.000000"

// callSpan is when a remote call started and was answered, by the -d log.
type callSpan struct{ start, end time.Time }

// timesSent is how many utimens a new file made by tar should cost: one,
// or two when the -d log says the atime guessed at create (the server
// made the file in another second than it seemed) was sent again.
func timesSent(log, rel string) int {
	if strings.Contains(log, "utimens again, the atime guessed at create was not the server's "+strconv.Quote(rel)+": ok") {
		return 2
	}
	return 1
}

// remoteCalls checks that the -d log has n successful calls op on file and
// returns when the first started and was answered.
func remoteCalls(t *testing.T, log, op, file string, n int) callSpan {
	t.Helper()
	re := regexp.MustCompile(`(\d\d:\d\d:\d\d\.\d{6})   sftp ` + op + ` ` + regexp.QuoteMeta(file) + `: ok in (\S+)\n`)
	found := re.FindAllStringSubmatch(log, -1)
	if len(found) != n {
		t.Fatalf("%d %s calls on %s in the -d log, want %d", len(found), op, file, n)
	}
	end, err := time.Parse(logTime, found[0][1])
	if err != nil {
		t.Fatal(err)
	}
	took, err := time.ParseDuration(found[0][2])
	if err != nil {
		t.Fatal(err)
	}
	return callSpan{start: end.Add(-took), end: end}
}

// createOnOneThread creates name with O_EXCL and writes to it from the
// calling goroutine's own thread, locked to it until done is called:
// FUSE names the thread, and only the creator's changes wait for close.
func createOnOneThread(t *testing.T, name, data string) (f *os.File, done func()) {
	t.Helper()
	runtime.LockOSThread()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0644)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	return f, runtime.UnlockOSThread
}

// An unprivileged user's chown to root fails on the server. Sent with the
// data, its EPERM comes at close (or fsync) instead of at the call, and
// must come: never dropped.
func TestAChownTheServerRefusesIsReportedAtTheCallOrAtClose(t *testing.T) {
	m := mountAs(t, testUser)
	for _, end := range []string{"close", "fsync"} {
		t.Run(end, func(t *testing.T) {
			f, done := createOnOneThread(t, filepath.Join(m.mnt, end), "data")
			defer done()
			chownErr := f.Chown(0, 0)
			var endErr error
			if end == "fsync" {
				endErr = f.Sync()
			}
			if err := f.Close(); endErr == nil {
				endErr = err
			}
			if !errors.Is(chownErr, syscall.EPERM) && !errors.Is(endErr, syscall.EPERM) {
				t.Fatalf("chown: %v, %s: %v; want EPERM from one of them", chownErr, end, endErr)
			}
			fi := statInfo(t, filepath.Join(m.remote, end))
			if ownerName(t, fi) != testUser || readFile(t, filepath.Join(m.remote, end)) != "data" {
				t.Fatalf("on the server: owner %s, %q", ownerName(t, fi), readFile(t, filepath.Join(m.remote, end)))
			}
		})
	}
}

// The times of a file renamed by another client (here, directly on the
// server) before close cannot be set by its old path: close says so.
func TestAUtimesThatFailsOnTheServerIsReportedAtTheCallOrAtClose(t *testing.T) {
	m := mount(t)
	f, done := createOnOneThread(t, filepath.Join(m.mnt, "f"), "data")
	defer done()
	setErr := unix.Futimes(int(f.Fd()), []unix.Timeval{{Sec: 1000000000}, {Sec: 1000000000}})
	if err := os.Rename(filepath.Join(m.remote, "f"), filepath.Join(m.remote, "g")); err != nil {
		t.Fatal(err)
	}
	closeErr := f.Close()
	if setErr == nil && closeErr == nil {
		// Sent at the call: then the server has it.
		if mt := statInfo(t, filepath.Join(m.remote, "g")).ModTime().Unix(); mt != 1000000000 {
			t.Fatalf("utimes and close succeeded, but the server's mtime is %d", mt)
		}
		return
	}
	if !errors.Is(setErr, syscall.ENOENT) && !errors.Is(closeErr, syscall.ENOENT) {
		t.Fatalf("utimes: %v, close: %v; want ENOENT from one of them", setErr, closeErr)
	}
}

// The mode of new files is predicted from the last one made in the same
// directory; a default ACL set meanwhile on the server makes new files
// 0664. The file still ends with the mode it was created with.
func TestANewFileGetsItsModeWhenTheServersDefaultChanged(t *testing.T) {
	m := mount(t)
	if err := os.Mkdir(filepath.Join(m.mnt, "d"), 0755); err != nil {
		t.Fatal(err)
	}
	create := func(name string) {
		f, err := os.OpenFile(filepath.Join(m.mnt, "d", name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("x")
		if err := f.Close(); err != nil {
			t.Fatalf("close %s: %v", name, err)
		}
	}
	create("first")
	sh(t, m.remote, "setfacl -d -m u::rw,g::rw,o::r d && touch d/probe")
	if mode := statInfo(t, filepath.Join(m.remote, "d/probe")).Mode().Perm(); mode != 0664 {
		t.Fatalf("the default ACL makes new files %v, want 0664: this test proves nothing", mode)
	}
	for _, name := range []string{"predicted", "learned"} {
		create(name)
		if mode := statInfo(t, filepath.Join(m.remote, "d", name)).Mode().Perm(); mode != 0644 {
			t.Errorf("%s: server mode %v, want 0644", name, mode)
		}
	}
}

// tar, cp -r and rsync look every name up before they create it. In a
// directory being filled, that costs no round trip while its listing is
// fresh, and still none once it has expired: it is listed again instead.
func TestFillingADirectoryLooksNoNameUpAfterItsListingExpires(t *testing.T) {
	_, log, m := startForeground(t, "-o", "cache_timeout=1")
	sh(t, m.mnt, "mkdir d && for i in $(seq 1 15); do echo $i > d/f$i; sleep 0.2; done")
	d := regexp.QuoteMeta(filepath.Join(m.remote, "d"))
	if n := len(regexp.MustCompile(`  sftp lstat `+d+`/f`).FindAllString(log.String(), -1)); n != 0 {
		t.Errorf("%d names looked up on the server:\n%s", n, log.String())
	}
	if !regexp.MustCompile(`  sftp readdir ` + d + `:`).MatchString(log.String()) {
		t.Error("the directory was never listed again: its listing did not expire, the test proves nothing")
	}
}

// tar -x of an archive without a top directory (./f1, ./f2...) into a
// directory made on the server and never listed through the mount: once
// a few names have missed, the directory is listed, and the other names
// cost no lookup on the server; every file lands with its bytes.
func TestUntarIntoADirectoryNeverListedLooksUpOnlyTheFirstNames(t *testing.T) {
	_, log, m := startForeground(t)
	src := t.TempDir()
	sh(t, src, "mkdir t && cd t && for i in $(seq 1 60); do echo $i > f$i; done && tar -cf ../flat.tar .")
	sh(t, m.remote, "mkdir existing")
	sh(t, m.mnt, "tar -xf "+src+"/flat.tar -C existing")
	d := regexp.QuoteMeta(filepath.Join(m.remote, "existing"))
	if n := len(regexp.MustCompile(`  sftp lstat `+d+`/f\d+: lstat`).FindAllString(log.String(), -1)); n > 3 {
		t.Errorf("%d names looked up on the server (absent), want at most 3 before the listing", n)
	}
	for i := 1; i <= 60; i++ {
		if got := readFile(t, filepath.Join(m.remote, "existing", "f"+strconv.Itoa(i))); got != strconv.Itoa(i)+"\n" {
			t.Fatalf("f%d on the server: %q", i, got)
		}
	}
}
