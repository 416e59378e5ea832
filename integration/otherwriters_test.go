//go:build linux

package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Other writers: each test changes the served directory directly, as the
// server's own jobs or another client would, while the mount runs, and
// checks when the mount shows it.

// serverChanges makes, rewrites, renames and removes files directly in the
// served directory, one step at a time, and checks each through the mount
// with seen, which waits as long as the options under test allow.
func serverChanges(t *testing.T, m *mounted, seen func(what string, ok func() bool)) {
	t.Helper()
	mnt := func(name string) string { return filepath.Join(m.mnt, name) }
	// Everything is looked at first, so that every cache holds the
	// old state: the listing, the absent names, the attributes, pages.
	writeFile(t, filepath.Join(m.remote, "old"), "old bytes", 0644)
	os.ReadDir(m.mnt)
	os.Stat(mnt("made"))
	readFile(t, mnt("old"))

	writeFile(t, filepath.Join(m.remote, "made"), "made on the server", 0644)
	seen("a file made on the server: stat", func() bool { _, err := os.Stat(mnt("made")); return err == nil })
	seen("a file made on the server: cat", func() bool { b, _ := os.ReadFile(mnt("made")); return string(b) == "made on the server" })
	seen("a file made on the server: ls", func() bool { return listed(m.mnt, "made") })

	writeFile(t, filepath.Join(m.remote, "old"), "rewritten on the server, longer", 0644)
	seen("a file rewritten on the server: cat", func() bool {
		b, _ := os.ReadFile(mnt("old"))
		return string(b) == "rewritten on the server, longer"
	})

	if err := os.Rename(filepath.Join(m.remote, "made"), filepath.Join(m.remote, "renamed")); err != nil {
		t.Fatal(err)
	}
	seen("a rename on the server: the new name", func() bool { b, _ := os.ReadFile(mnt("renamed")); return string(b) == "made on the server" })
	seen("a rename on the server: the old name gone", func() bool { _, err := os.Stat(mnt("made")); return errors.Is(err, os.ErrNotExist) })
	seen("a rename on the server: ls", func() bool { return listed(m.mnt, "renamed") && !listed(m.mnt, "made") })

	if err := os.Remove(filepath.Join(m.remote, "renamed")); err != nil {
		t.Fatal(err)
	}
	seen("a removal on the server: stat", func() bool { _, err := os.Stat(mnt("renamed")); return errors.Is(err, os.ErrNotExist) })
	seen("a removal on the server: ls", func() bool { return !listed(m.mnt, "renamed") })
}

func listed(dir, name string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}

// seenWithin returns a seen for serverChanges that polls until limit and
// fails the test past it.
func seenWithin(t *testing.T, limit time.Duration) func(string, func() bool) {
	return func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		if !waitFor(limit, ok) {
			t.Errorf("%s: not seen through the mount within %v", what, limit)
			return
		}
		t.Logf("%s: seen after %v", what, time.Since(start).Round(time.Millisecond))
	}
}

// sshfs's -o dir_cache=no with the kernel's timeouts at zero: the very
// next call sees the server's change.
func TestWithDirCacheOffAndZeroKernelTimeoutsTheNextCallSeesTheServersChange(t *testing.T) {
	m := mount(t, "-o", "dir_cache=no,entry_timeout=0,attr_timeout=0")
	serverChanges(t, m, func(what string, ok func() bool) {
		t.Helper()
		if !ok() {
			t.Errorf("%s: the very next call through the mount did not see it", what)
		}
	})
}

// dcache_timeout=1: a change on the server shows within 2 s.
func TestWithDcacheTimeoutOneAServerChangeShowsWithinTwoSeconds(t *testing.T) {
	m := mount(t, "-o", "dcache_timeout=1")
	serverChanges(t, m, seenWithin(t, 2*time.Second))
}

// With the defaults a name made on the server is found within about a
// second (negative_timeout), a file's new content at its next open (close
// to open), and the rest within the cache timeout.
func TestByDefaultAFileMadeOnTheServerIsFoundWithinASecondAndNewContentAtTheNextOpen(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "first", 0644)
	os.ReadDir(m.mnt) // the listing is cached: "new" is absent from it
	if _, err := os.Stat(filepath.Join(m.mnt, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat new before it exists: %v", err)
	}
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "first" {
		t.Fatalf("f: %q", got)
	}
	writeFile(t, filepath.Join(m.remote, "new"), "made on the server", 0644)
	seenWithin(t, 1500*time.Millisecond)("a file made on the server right after a listing: cat", func() bool {
		b, _ := os.ReadFile(filepath.Join(m.mnt, "new"))
		return string(b) == "made on the server"
	})

	// Close-to-open: the first open more than open_timeout (1 s) after
	// the server last told us of f sees the new bytes, longer or shorter,
	// and the kernel's pages of the old ones are dropped.
	for _, content := range []string{"second, and longer than the first", "third"} {
		writeFile(t, filepath.Join(m.remote, "f"), content, 0644)
		time.Sleep(1100 * time.Millisecond)
		if got := readFile(t, filepath.Join(m.mnt, "f")); got != content {
			t.Fatalf("the first open past open_timeout after the server rewrote f reads %q, want %q", got, content)
		}
		if fi, err := os.Stat(filepath.Join(m.mnt, "f")); err != nil || fi.Size() != int64(len(content)) {
			t.Fatalf("stat after that open: %v %v, want size %d", fi, err, len(content))
		}
	}
	// Same size, new mtime: the pages are dropped too.
	writeFile(t, filepath.Join(m.remote, "f"), "THIRD", 0644)
	sh(t, m.remote, "touch -d '+10 seconds' f")
	time.Sleep(1100 * time.Millisecond)
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "THIRD" {
		t.Fatalf("same size, new mtime: the next open reads %q", got)
	}
}

// sshfs's own suite: list a directory, make a file in the served
// directory, open it through the mount at once. A listing read before the
// name existed does not hide it (only names this mount was itself told
// are absent, or a directory it is filling, answer without asking): with
// the defaults and with the suite's options, and as the suite does it,
// also after the mount made a file of its own there a while ago.
func TestANameMadeOnTheServerRightAfterAListingOpensAtOnce(t *testing.T) {
	for _, opts := range [][]string{nil, {"-o", "dir_cache=yes,dcache_timeout=1,entry_timeout=0,attr_timeout=0"}} {
		t.Run(strings.Join(append([]string{"opts"}, opts...), " "), func(t *testing.T) {
			m := mount(t, opts...)
			writeFile(t, filepath.Join(m.remote, "old"), "old", 0644)
			for i, first := range []string{"ls", "stat", "ls after a file of ours"} {
				dir := fmt.Sprintf("d%d", i)
				sh(t, m.remote, "mkdir "+dir+" && echo x > "+dir+"/there")
				switch first {
				case "ls":
					sh(t, m.mnt, "ls -l "+dir)
				case "stat":
					sh(t, m.mnt, "stat "+dir+"/there && ls "+dir)
				default:
					sh(t, m.mnt, "ls "+dir+" && echo ours > "+dir+"/ours")
					time.Sleep(1100 * time.Millisecond) // past negative_timeout: the filling is over
				}
				name := filepath.Join(dir, "new")
				writeFile(t, filepath.Join(m.remote, name), "made on the server", 0644)
				if got, err := os.ReadFile(filepath.Join(m.mnt, name)); err != nil || string(got) != "made on the server" {
					t.Errorf("after %s: a file made on the server opened at once through the mount: %q, %v", first, got, err)
				}
				if names := sh(t, filepath.Join(m.mnt, dir), "ls"); !strings.Contains(names, "new") && len(opts) > 0 {
					t.Errorf("after %s, with dcache_timeout=1: ls lacks the file the open found: %q", first, names)
				}
			}
		})
	}
}

// A directory this mount fills keeps answering lookups of the names it
// does not have yet without a round trip, however long the filling takes:
// it knows what it made there. At 20 ms a tar of 60 files takes over two
// seconds, past the negative timeout; no new name is looked up remotely.
func TestADirectoryThisMountFillsAnswersAbsentNamesWithoutARoundTripPastTheNegativeTimeout(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 20)
	_, log, m := startForegroundThrough(t, link)
	src := t.TempDir()
	sh(t, src, "mkdir t && for i in $(seq 1 60); do echo $i > t/f$i; done && tar -cf t.tar t")
	start := time.Now()
	sh(t, m.mnt, "tar -xf "+src+"/t.tar")
	took := time.Since(start)
	if took < 1500*time.Millisecond {
		t.Logf("the extraction took only %v: the negative timeout was barely passed", took)
	}
	lookups := regexp.MustCompile(`  sftp (l?stat) `+regexp.QuoteMeta(m.remote)+`/t/f\d+:`).FindAllString(log.String(), -1)
	if len(lookups) > 0 {
		t.Errorf("tar of 60 files into a new directory (%v) looked %d of them up on the server: %q", took.Round(time.Millisecond), len(lookups), lookups[:min(3, len(lookups))])
	}
	if got := sh(t, filepath.Join(m.remote, "t"), "ls | wc -l"); strings.TrimSpace(got) != "60" {
		t.Fatalf("the server has %s files", got)
	}
	t.Logf("tar of 60 files at 20 ms: %v", took.Round(time.Millisecond))
}

// direct_io: every read reaches the server. Bytes the server changed
// without changing size or mtime (which the page cache would keep) are
// read at once, through the same descriptor; writes land as written.
func TestDirectIOSendsEveryReadAndWriteToTheServer(t *testing.T) {
	m := mount(t, "-o", "direct_io")
	remoteF := filepath.Join(m.remote, "f")
	writeFile(t, remoteF, "aaaaaaaa", 0644)
	sh(t, m.remote, "touch -d @1000000000 f")
	f, err := os.Open(filepath.Join(m.mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8)
	if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "aaaaaaaa" {
		t.Fatalf("first read: %q", buf[:n])
	}
	writeFile(t, remoteF, "bbbbbbbb", 0644)
	sh(t, m.remote, "touch -d @1000000000 f")
	if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "bbbbbbbb" {
		t.Fatalf("a read after the server changed the bytes (same size and mtime): %q, want them", buf[:n])
	}
	big := strings.Repeat("direct io bytes\n", 1<<16) // 1 MiB
	writeFile(t, filepath.Join(m.mnt, "big"), big, 0644)
	if got := readFile(t, filepath.Join(m.remote, "big")); got != big {
		t.Fatalf("the server has %d bytes, want %d", len(got), len(big))
	}
	if got := readFile(t, filepath.Join(m.mnt, "big")); got != big {
		t.Fatalf("read back %d bytes, want %d", len(got), len(big))
	}
	if out := sh(t, m.mnt, "cmp big "+filepath.Join(m.remote, "big")+" && echo same"); out != "same\n" {
		t.Fatalf("cmp: %q", out)
	}
}

// disable_hardlink: link(2) fails, as it does with sshfs (whose errno, on
// the same server, the test asks for), and nothing is made on the server.
func TestDisableHardlinkMakesLinkFailAsSshfsDoes(t *testing.T) {
	m := mount(t, "-o", "disable_hardlink")
	writeFile(t, filepath.Join(m.remote, "f"), "x", 0644)
	err := os.Link(filepath.Join(m.mnt, "f"), filepath.Join(m.mnt, "g"))
	wantErrno(t, "link with disable_hardlink", err, syscall.EPERM)
	if _, err := os.Lstat(filepath.Join(m.remote, "g")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the server has g: %v", err)
	}
	if fi := statInfo(t, filepath.Join(m.remote, "f")); fi.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Fatalf("the server's f has %d links", fi.Sys().(*syscall.Stat_t).Nlink)
	}

	sshfsMnt := newMountpoint(t)
	out, serr := exec.Command("sshfs", "root@127.0.0.1:"+m.remote, sshfsMnt, "-p", strconv.Itoa(server.port),
		"-o", "IdentityFile="+server.userKey+",UserKnownHostsFile="+server.knownHosts+",StrictHostKeyChecking=yes,disable_hardlink").CombinedOutput()
	if serr != nil {
		t.Fatalf("sshfs: %v %s", serr, out)
	}
	cleanupMount(t, sshfsMnt)
	theirs := os.Link(filepath.Join(sshfsMnt, "f"), filepath.Join(sshfsMnt, "g"))
	var ours, sshfsErrno syscall.Errno
	errors.As(err, &ours)
	if !errors.As(theirs, &sshfsErrno) || sshfsErrno != ours {
		t.Errorf("link with disable_hardlink: ours %v, sshfs's %v", err, theirs)
	}
}

// A host that starts with '-' or holds shell metacharacters is refused as
// "invalid hostname", exit 2, before anything is looked up or run.
func TestAnInvalidHostnameIsRefusedBeforeAnythingIsLookedUp(t *testing.T) {
	needServer(t)
	marker := filepath.Join(t.TempDir(), "ran")
	for _, args := range [][]string{
		{"--", "-oProxyCommand=touch " + marker + ":/tmp", newMountpoint(t)},
		{"[-oProxyCommand=touch " + marker + "]:/tmp", newMountpoint(t)},
		{"h;touch " + marker + ":/tmp", newMountpoint(t)},
	} {
		r := runBinary(t, home(t), args...)
		if r.code != 2 || !strings.HasPrefix(r.stderr, "sftpmount: invalid hostname") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line \"invalid hostname\"", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a command in the host ran")
	}
}

// nomap=error with idmap=file: a file whose owner has no line is EPERM,
// one with a line shows the local id, and chown maps back.
func TestIdmapFileShowsMappedOwnersAndRefusesUnmappedOnesWithNomapError(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	uidfile := filepath.Join(dir, "uids")
	// The server's 4242 is our root, its root our nobody.
	writeFile(t, uidfile, "root:4242\nnobody:0\n", 0644)
	gidfile := filepath.Join(dir, "gids")
	writeFile(t, gidfile, "# group:remote gid\nroot:4343\nnogroup:0\n", 0644)
	m := mount(t, "-o", "idmap=file,uidfile="+uidfile+",gidfile="+gidfile+",nomap=error")
	writeFile(t, filepath.Join(m.remote, "mapped"), "x", 0644)
	writeFile(t, filepath.Join(m.remote, "unmapped"), "y", 0644)
	sh(t, m.remote, "chown 4242:4343 mapped && chown 1234:5678 unmapped")
	fi := statInfo(t, filepath.Join(m.mnt, "mapped"))
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("mapped: shown as %d:%d, want 0:0", st.Uid, st.Gid)
	}
	_, err := os.Lstat(filepath.Join(m.mnt, "unmapped"))
	wantErrno(t, "stat of a file whose owner has no mapping, nomap=error", err, syscall.EPERM)
	writeFile(t, filepath.Join(m.mnt, "mine"), "z", 0644) // the server's root owns it
	if st := statInfo(t, filepath.Join(m.mnt, "mine")).Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
		t.Fatalf("a file the server's root owns is shown as %d:%d, want nobody:nogroup", st.Uid, st.Gid)
	}
	if err := os.Chown(filepath.Join(m.mnt, "mine"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if st := statInfo(t, filepath.Join(m.remote, "mine")).Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
		t.Fatalf("chown 0:0 through the mount: the server has %d:%d, want 4242:4343", st.Uid, st.Gid)
	}
	err = os.Chown(filepath.Join(m.mnt, "mine"), 1000, -1)
	wantErrno(t, "chown to a uid with no mapping, nomap=error", err, syscall.EPERM)

	r := runBinary(t, home(t), append([]string{remoteSpec(m.remote), newMountpoint(t), "-o", "idmap=file,uidfile=" + filepath.Join(dir, "missing")}, standardArgs()...)...)
	if r.code != 9 || !strings.Contains(r.stderr, "missing") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("a missing uidfile: exit %d, stderr %q; want 9 and one line", r.code, r.stderr)
	}
}

// The absent names a walk probes in every directory (git status opens
// .gitignore in each) are kept fresh while the walk goes on: repeated
// past the negative timeout, every lookup is answered without a round
// trip, and a name made on the server is still found within about the
// negative timeout. Once unused for the renewal window (five negative
// timeouts) they are no longer asked about; the first lookup then asks
// for all the expired names at once rather than one round trip each.
func names(n int, name func(int) string) (out []string) {
	for i := 1; i <= n; i++ {
		out = append(out, name(i))
	}
	return out
}

func TestAbsentNamesProbedInManyDirectoriesAreKeptFreshAndAskedForAllAtOnce(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 20)
	// The timed rules, which this is about: with the change feed a quiet
	// directory's absent names are vouched for, and neither renewed nor
	// asked again (TestFeedKeepsTheCachesOfAQuietDirectoryPastTheirTimeout).
	_, log, m := startForegroundThrough(t, link, "-o", "remote_commands=no")
	const dirs = 12
	sh(t, m.remote, "for i in $(seq 1 "+strconv.Itoa(dirs)+"); do mkdir d$i && echo x > d$i/f; done; mkdir u && echo x > u/f")
	gitignore := func(i int) string { return filepath.Join("d"+strconv.Itoa(i), ".gitignore") }
	probe := func() (found []string) {
		// And a name in a directory never listed (as git asks for
		// .git/refs/tags/HEAD).
		if _, err := os.Lstat(filepath.Join(m.mnt, "u", "HEAD")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("u/HEAD: %v", err)
		}
		for i := 1; i <= dirs; i++ {
			if _, err := os.ReadFile(filepath.Join(m.mnt, gitignore(i))); err == nil {
				found = append(found, "d"+strconv.Itoa(i))
			} else if !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		return found
	}
	sh(t, m.mnt, "ls -R d* > /dev/null") // every listing cached but u's
	if found := probe(); len(found) != 0 {
		t.Fatalf("found %v before any was made", found)
	}
	for round := 1; round <= 3; round++ {
		time.Sleep(1200 * time.Millisecond) // past the negative timeout
		before := len(log.String())
		if found := probe(); len(found) != 0 {
			t.Fatalf("round %d: found %v, none was made", round, found)
		}
		time.Sleep(100 * time.Millisecond) // the -d log reaches us through a pipe
		asked := log.String()[before:]
		// The kernel forgets its own answers after the negative timeout
		// too, and asks; each lookup is answered without asking the
		// server in its turn.
		for _, name := range append(names(dirs, gitignore), "u/HEAD") {
			if strings.Contains(asked, `lookup "/`+name+`": no such file or directory (lstat`) {
				t.Errorf("round %d: the lookup of %s asked the server:\n%s", round, name, asked)
			}
		}
		if n := strings.Count(asked, `.gitignore": no such file or directory (known absent`); n < dirs/2 {
			t.Errorf("round %d: %d lookups answered from fresh answers, want most of %d:\n%s", round, n, dirs, asked)
		}
	}
	writeFile(t, filepath.Join(m.remote, gitignore(7)), "made", 0644)
	made := time.Now()
	var found []string
	for time.Since(made) < 5*time.Second {
		if found = probe(); len(found) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(found) != 1 || found[0] != "d7" {
		t.Fatalf("found %v, want d7 only", found)
	}
	// The negative timeout, a renewal round (a quarter of it) and the
	// question's round trip, with room for a slow machine.
	if took := time.Since(made); took > 1800*time.Millisecond {
		t.Errorf("a name made on the server was found %v later, want about a second", took)
	}
	os.Remove(filepath.Join(m.mnt, gitignore(7)))

	time.Sleep(6 * time.Second) // past the renewal window: nothing asked about since
	writeFile(t, filepath.Join(m.remote, gitignore(9)), "made", 0644)
	before := len(log.String())
	if found := probe(); len(found) != 1 || found[0] != "d9" {
		t.Fatalf("after the window: found %v, want d9 only", found)
	}
	asked := log.String()[before:]
	// All at once: every other directory's name was asked for, and
	// answered, before the fourth directory's lookup was; one by one,
	// the twelfth would be asked during the twelfth lookup.
	// By the log's times, not its order: answers that come together are
	// logged by their own goroutines, in any order.
	stamp := func(re string) (string, bool) {
		m := regexp.MustCompile(`(?m)^sftpmount: (\d\d:\d\d:\d\d\.\d+) ` + re).FindStringSubmatch(asked)
		if m == nil {
			return "", false
		}
		return m[1], true
	}
	fourth, ok := stamp(`lookup "/d4/\.gitignore"`)
	if !ok {
		t.Fatalf("no lookup of d4/.gitignore in the log")
	}
	for i := 5; i <= dirs; i++ {
		if i == 7 {
			continue // removed through the mount: not asked about since
		}
		at, ok := stamp(`  sftp lstat ` + regexp.QuoteMeta(filepath.Join(m.remote, gitignore(i))) + `:`)
		if !ok || at > fourth {
			t.Errorf("after the window: d%d/.gitignore was not asked for before d4's lookup was answered:\n%s", i, asked)
		}
	}
}

// -o open_timeout=0: every open asks, so the very next open after the
// server rewrote a file reads the new bytes, and the page cache still
// serves the reads of a file that did not change.
func TestWithOpenTimeoutZeroTheNextOpenSeesTheServersNewContent(t *testing.T) {
	m := mount(t, "-o", "open_timeout=0")
	served, mounted := filepath.Join(m.remote, "f"), filepath.Join(m.mnt, "f")
	for i, content := range []string{"one", "two, longer", "3", "4"} {
		writeFile(t, served, content, 0644)
		if i == 3 {
			// Same size as before: only the mtime tells.
			sh(t, m.remote, "touch -d '+10 seconds' f")
		}
		if got := readFile(t, mounted); got != content {
			t.Fatalf("open %d right after the server wrote %q reads %q", i, content, got)
		}
	}
}
