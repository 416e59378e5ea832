//go:build linux

package integration

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sftpCalls counts the remote calls a -d log shows.
func sftpCalls(log string) int {
	return strings.Count(log, "  sftp ") + strings.Count(log, "  exec ") // a bulk listing's request (remote/tree.go)
}

func TestAWarmLsLRMakesNoRemoteCallWithinTheCacheTimeout(t *testing.T) {
	needServer(t)
	_, log, m := startForegroundWith(t, standardArgs(), "-o", "cache_timeout=60")
	sh(t, m.remote, "for d in 1 2 3 4 5; do mkdir d$d; (cd d$d && touch $(seq -f f%g 1 20) && ln -s f1 link); done")
	cold := sh(t, m.mnt, "ls -lR")
	before := len(log.String())
	warm := sh(t, m.mnt, "ls -lR")
	if warm != cold {
		t.Fatalf("the warm listing differs:\n%s\nvs\n%s", warm, cold)
	}
	if n := sftpCalls(log.String()[before:]); n != 0 {
		t.Fatalf("a warm ls -lR made %d remote calls:\n%s", n, log.String()[before:])
	}
	if sftpCalls(log.String()[:before]) == 0 {
		t.Fatal("the -d log shows no remote calls at all: the count proves nothing")
	}
	if !strings.Contains(warm, filepath.Base("f20")) {
		t.Fatalf("listing: %s", warm)
	}
}

// git status, make and rsync stat every name of a directory without
// listing it. Past a few names the directory is listed once, and the
// other names are answered from that: not one round trip each. (Where
// the server runs commands a bulk answer lists d before: this is the
// listing of statmany.go, where it cannot.)
func TestStattingEveryNameOfADirectoryListsItOnce(t *testing.T) {
	needServer(t)
	_, log, m := startForegroundWith(t, standardArgs(), "-o", "cache_timeout=60", "-o", "remote_commands=no")
	sh(t, m.remote, "mkdir d && cd d && for i in $(seq 1 50); do head -c $i /dev/zero > f$i; done")
	sh(t, m.mnt, "stat d > /dev/null") // the directory itself is known, as it is to git
	before := len(log.String())
	names := make([]string, 0, 51)
	for i := 1; i <= 50; i++ {
		names = append(names, fmt.Sprintf("d/f%d", i))
	}
	names = append(names, "d/absent")
	out, _ := shErrWithin(m.mnt, "stat -c '%n %s' "+strings.Join(names, " "), time.Minute)
	for i := 1; i <= 50; i++ {
		if !strings.Contains(out, fmt.Sprintf("d/f%d %d\n", i, i)) {
			t.Fatalf("stat d/f%d: wrong or missing size in:\n%s", i, out)
		}
	}
	if !strings.Contains(out, "d/absent") || !strings.Contains(out, "No such file") {
		t.Fatalf("a missing name was not reported missing:\n%s", out)
	}
	calls := log.String()[before:]
	lstats, listings := strings.Count(calls, "sftp lstat "), strings.Count(calls, "sftp readdir ")
	if listings != 1 || lstats > 3 {
		t.Fatalf("statting 51 names made %d lstat calls and %d listings, want at most 3 and 1:\n%s", lstats, listings, calls)
	}
}

// The served directory was stat'ed when mounting: a cd into the mount and
// a stat of it need no round trip, and show the server's directory.
func TestTheMountPointIsStattedWithoutARoundTripAfterMounting(t *testing.T) {
	needServer(t)
	_, log, m := startForegroundWith(t, standardArgs())
	before := len(log.String())
	got := sh(t, m.mnt, "stat -c '%a %Y' .")
	if want := sh(t, m.remote, "stat -c '%a %Y' ."); got != want {
		t.Fatalf("the mount point shows %q, the server's directory is %q", got, want)
	}
	sh(t, m.mnt, "ls -la > /dev/null")
	// The log reaches us through a pipe, so a line may still be on its
	// way when a command ends: wait for the listing's (by SFTP, or a
	// bulk request), and count the calls logged before it, which came
	// before it.
	listing := regexp.MustCompile(`  (sftp readdir|exec) `)
	if !waitFor(5*time.Second, func() bool { return listing.MatchString(log.String()[before:]) }) {
		t.Fatalf("the -d log shows no listing of the mount point: the count proves nothing:\n%s", log.String()[before:])
	}
	calls := log.String()[before:]
	calls = calls[:listing.FindStringIndex(calls)[0]]
	if n := sftpCalls(calls); n != 0 {
		t.Fatalf("a stat of the mount point made %d remote calls:\n%s", n, calls)
	}
}

// Another client removes a file the kernel still has a name for (well
// within the cache timeout): the first use of the name says ENOENT, as it
// must, and from then on the name is free: creating it again works at
// once, instead of failing with ENOENT until the kernel's entry expires.
// (The soak found it after a rename a reset cut off, which the server had
// done.)
func TestANameRemovedOnTheServerCanBeCreatedAgainAtOnce(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=600")
	f := filepath.Join(m.mnt, "f")
	writeFile(t, f, "first", 0644)
	if _, err := os.Stat(f); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m.remote, "f")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(f); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading a file removed on the server: %v, want ENOENT", err)
	}
	if err := os.WriteFile(f, []byte("second"), 0644); err != nil {
		t.Fatalf("creating the name again: %v", err)
	}
	if got := readFile(t, filepath.Join(m.remote, "f")); got != "second" {
		t.Fatalf("server has %q", got)
	}
}

// A file read again within open_timeout of the server's last word on it
// costs no remote call: the open asks nothing and the kernel's pages
// answer the reads. Past it, one open asks again, and a file another
// client changed in the served directory is read as it now is. A reader
// sits in the mount through many timeouts while the server's copy
// changes under it, and each change shows within the timeout.
func TestARereadWithinTheOpenTimeoutCostsNoRemoteCallAndAChangeShowsAfterIt(t *testing.T) {
	needServer(t)
	const openTimeout = 300 * time.Millisecond
	_, log, m := startForegroundWith(t, standardArgs(), "-o", "cache_timeout=2,open_timeout=0.3")
	served := filepath.Join(m.remote, "f")
	writeFile(t, served, "version 0\n", 0644)
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "version 0\n" {
		t.Fatalf("first read: %q", got)
	}
	// The kernel's release, which closes the remote handle, comes after
	// close(2) has returned.
	if !waitFor(10*time.Second, func() bool { return strings.Contains(log.String(), `release "/f": ok`) }) {
		t.Fatalf("no release of f in the log:\n%s", log.String())
	}
	before := sftpCalls(log.String())
	for i := 0; i < 5; i++ {
		if got := readFile(t, filepath.Join(m.mnt, "f")); got != "version 0\n" {
			t.Fatalf("re-read %d: %q", i, got)
		}
	}
	if n := sftpCalls(log.String()) - before; n != 0 {
		t.Fatalf("5 re-reads within the open timeout made %d remote calls, want none:\n%s", n, log.String()[before:])
	}
	// Many timeouts long: the server's copy changes every 700 ms (its
	// size with it); a read 150 ms past the open timeout sees the change.
	reads, opens := 0, strings.Count(log.String(), "  sftp open ")
	for v := 1; v <= 8; v++ {
		want := fmt.Sprintf("version %d%s\n", v, strings.Repeat("!", v))
		writeFile(t, served, want, 0644)
		changed := time.Now()
		for time.Since(changed) < 700*time.Millisecond {
			got := readFile(t, filepath.Join(m.mnt, "f"))
			reads++
			if time.Since(changed) > openTimeout+150*time.Millisecond && got != want {
				t.Fatalf("%v after the server's change, a read gave %q, want %q", time.Since(changed).Round(time.Millisecond), got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	opens = strings.Count(log.String(), "  sftp open ") - opens
	t.Logf("%d reads over 8 changes sent %d opens", reads, opens)
	if opens > reads/3 {
		t.Fatalf("%d reads sent %d opens: re-reads within the open timeout must send none", reads, opens)
	}
}

// A file this mount wrote is known once closed: read back within
// open_timeout, it costs no remote call (the kernel's pages hold what
// was written: whole pages, here; a last page written in part is read
// once), and the server holds the same bytes.
func TestAFileThisMountWroteIsReadBackWithoutARemoteCall(t *testing.T) {
	needServer(t)
	_, log, m := startForegroundWith(t, standardArgs(), "-o", "open_timeout=5")
	want := strings.Repeat(strings.Repeat("x", 63)+"\n", 16384/64)
	writeFile(t, filepath.Join(m.mnt, "g"), want, 0644)
	if !waitFor(10*time.Second, func() bool { return strings.Contains(log.String(), `release "/g": ok`) }) {
		t.Fatalf("no release of g in the log:\n%s", log.String())
	}
	before := sftpCalls(log.String())
	for i := 0; i < 3; i++ {
		if got := readFile(t, filepath.Join(m.mnt, "g")); got != want {
			t.Fatalf("read back %d: %d bytes, want %d", i, len(got), len(want))
		}
	}
	if n := sftpCalls(log.String()) - before; n != 0 {
		t.Fatalf("3 reads of a file just written made %d remote calls, want none:\n%s", n, log.String()[before:])
	}
	if got := readFile(t, filepath.Join(m.remote, "g")); got != want {
		t.Fatalf("the server holds %d bytes, want %d", len(got), len(want))
	}
}
