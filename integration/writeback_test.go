//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Write-back (-o writeback): close returns once a new file is in the
// local journal; uploads run behind; unmount waits for them and names
// what could not go; a crash loses nothing acknowledged.

// smallFilesTar makes a tar of n files of size bytes in a directory t,
// distinct mtimes and two modes, and returns its path and the directory
// it was made from.
func smallFilesTar(t *testing.T, n, size int) (tarball, src string) {
	t.Helper()
	dir := t.TempDir()
	sh(t, dir, fmt.Sprintf(`mkdir -p src/t/sub && cd src
		for i in $(seq 1 %d); do head -c %d /dev/urandom > t/f$i; touch -d @$((1500000000 + i)) t/f$i; done
		echo deep > t/sub/deep && chmod 0600 t/f1 && chmod 0755 t/f2
		tar -cf ../files.tar t`, n, size))
	return filepath.Join(dir, "files.tar"), filepath.Join(dir, "src")
}

// journalFiles lists the records (.meta) in a journal directory; the
// empty ones are files made ahead, not records.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.meta"))
	var recs []string
	for _, p := range m {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			recs = append(recs, p)
		}
	}
	return recs
}

// endOf unmounts mnt and waits for the foreground sftpmount cmd to exit,
// returning its exit code.
func endOf(t *testing.T, cmd *exec.Cmd, mnt string, limit time.Duration) int {
	t.Helper()
	// A mount that has just appeared can be busy a moment (the kernel's
	// first requests): asked again for up to 5 s.
	var out []byte
	var err error
	if !waitFor(5*time.Second, func() bool {
		out, err = exec.Command("fusermount3", "-u", mnt).CombinedOutput()
		return err == nil
	}) {
		t.Fatalf("fusermount3 -u: %v %s", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("waiting for sftpmount: %v", err)
		}
		return 0
	case <-time.After(limit):
		cmd.Process.Kill()
		t.Fatalf("sftpmount still running %v after the unmount", limit)
		return -1
	}
}

// startWriteback mounts in the foreground with write-back on and the
// journal at journal.
func startWriteback(t *testing.T, link *slowLink, journal string, extra ...string) (*exec.Cmd, *lockedBuffer, *mounted) {
	t.Helper()
	extra = append([]string{"-o", "writeback,writeback_dir=" + journal}, extra...)
	if link != nil {
		return startForegroundThrough(t, link, extra...)
	}
	return startForeground(t, extra...)
}

func TestWritebackUntarIsReadableAtOnceAndOnTheServerAfterSyncAndUnmount(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	cmd, log, m := startWriteback(t, nil, journal)
	tarball, src := smallFilesTar(t, 200, 2048)
	sh(t, m.mnt, "tar -xpf "+tarball)
	want := describedFiles(t, src)
	// Before any upload is waited for, the mount shows every file as
	// tar left it, from the journal or the server.
	if got := describedFiles(t, m.mnt); got != want {
		t.Fatalf("mount after untar differs:\n%s", lineDiff(got, want))
	}
	if !strings.Contains(log.String(), `create (journal) "/t/f1": ok`) {
		t.Errorf("the -d log shows no create answered from the journal:\n%s", tail(log.String(), 20))
	}
	r := runBinary(t, home(t), "sync", m.mnt)
	if r.code != 0 {
		t.Fatalf("sftpmount sync exited %d: %s", r.code, r.stderr)
	}
	if got := describedFiles(t, m.remote); got != want {
		t.Fatalf("served directory after sync differs:\n%s", lineDiff(got, want))
	}
	if left := journalFiles(t, journal); len(left) != 0 {
		t.Errorf("journal still holds %d records after sync", len(left))
	}
	if names := sh(t, m.remote, "ls -A t | grep -c sftpmount-wb || true"); strings.TrimSpace(names) != "0" {
		t.Errorf("temporary names left on the server: %s", names)
	}
	st := runBinary(t, home(t), "status", m.mnt)
	if st.code != 0 || !strings.Contains(st.stdout, "write-back: on") || !strings.Contains(st.stdout, "queued: 0 files") || !strings.Contains(st.stdout, "uploaded: 201 files") {
		t.Errorf("sftpmount status exited %d:\n%s%s", st.code, st.stdout, st.stderr)
	}

	// More, then straight to unmount: it waits for them.
	sh(t, m.mnt, "mkdir more && for i in $(seq 1 50); do echo $i > more/g$i; done && chmod 0640 more/g7")
	if code := endOf(t, cmd, m.mnt, 2*time.Minute); code != 0 {
		t.Fatalf("sftpmount exited %d after the unmount: %s", code, tail(log.String(), 20))
	}
	for i := 1; i <= 50; i++ {
		if got := readFile(t, filepath.Join(m.remote, "more", fmt.Sprintf("g%d", i))); got != fmt.Sprintf("%d\n", i) {
			t.Fatalf("more/g%d on the server: %q", i, got)
		}
	}
	if fi := statInfo(t, filepath.Join(m.remote, "more/g7")); fi.Mode().Perm() != 0640 {
		t.Errorf("more/g7 on the server has mode %v, want 0640", fi.Mode())
	}
	if left := journalFiles(t, journal); len(left) != 0 {
		t.Errorf("journal still holds %d records after the unmount", len(left))
	}
}

// What a file waiting in the journal answers: rename (git's lock files),
// unlink, chmod, utimes, truncate, appends, reads, listings; and what
// reaches the server once uploaded is the last of it.
func TestWritebackFilesInTheJournalBehaveAsLocalFiles(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	cmd, log, m := startWriteback(t, nil, journal, "-o", "writeback_delay=30") // uploaded at sync
	out := sh(t, m.mnt, `echo config > config.lock && mv config.lock config
		echo gone > tmp && rm tmp
		echo data > f && chmod 0600 f && touch -d @1234567890 f
		printf 0123456789 > tr && truncate -s 4 tr
		echo a > ap && echo b >> ap
		cat config f tr ap; echo; ls | sort | tr '\n' ' '; stat -c '%a %Y' f`)
	want := "config\ndata\n0123a\nb\n\nap config f tr 600 1234567890\n"
	if out != want {
		t.Errorf("through the mount:\n%q\nwant\n%q", out, want)
	}
	if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Fatalf("sftpmount sync exited %d: %s\n%s", r.code, r.stderr, tail(log.String(), 60))
	}
	got := sh(t, m.remote, `ls | sort | tr '\n' ' '; cat config f tr ap; stat -c '%a %Y' f`)
	if want := "ap config f tr config\ndata\n0123a\nb\n600 1234567890\n"; got != want {
		t.Errorf("the server after sync:\n%q\nwant\n%q", got, want)
	}
	// mknod(2) of a regular file goes to the journal too, and lands.
	if err := syscall.Mknod(filepath.Join(m.mnt, "node"), syscall.S_IFREG|0o640, 0); err != nil {
		t.Errorf("mknod of a regular file: %v", err)
	} else if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Errorf("sftpmount sync exited %d: %s", r.code, r.stderr)
	} else if fi, err := os.Stat(filepath.Join(m.remote, "node")); err != nil || fi.Mode().Perm() != 0o640 || fi.Size() != 0 {
		t.Errorf("node on the server: %v %v", fi, err)
	}
	if !strings.Contains(log.String(), "rename (journal)") || !strings.Contains(log.String(), "unlink (journal)") || !strings.Contains(log.String(), "setattr (journal)") {
		t.Errorf("rename, unlink and setattr were not answered from the journal:\n%s", tail(log.String(), 40))
	}
	if code := endOf(t, cmd, m.mnt, 2*time.Minute); code != 0 {
		t.Fatalf("sftpmount exited %d: %s", code, tail(log.String(), 20))
	}
}

// A file made on the server under the name of one of ours that waits in
// the journal: both are kept, the server's under the name.
func TestWritebackKeepsAConflictingServerFileAndPutsOursBeside(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	_, log, m := startWriteback(t, nil, journal)
	sh(t, m.mnt, `exec 3>x && echo ours >&3 && echo theirs > `+filepath.Join(m.remote, "x")+` && exec 3>&-`)
	syncThenBoth(t, m, "x", "theirs\n", "ours\n")
	if !strings.Contains(log.String(), "changed on the server while its upload waited") {
		t.Errorf("no line says so:\n%s", tail(log.String(), 10))
	}
	if !waitFor(10*time.Second, func() bool { b, _ := os.ReadFile(filepath.Join(m.mnt, "x")); return string(b) == "theirs\n" }) {
		t.Errorf("the mount does not show the server's x")
	}
}

// kill -9 of the mount right after tar returned: the next mount of the
// same remote (without -o writeback) uploads every file.
func TestWritebackAfterKill9TheNextMountUploadsEverything(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 40) // the uploads lag behind tar
	journal := filepath.Join(t.TempDir(), "journal")
	cmd, log, m := startWriteback(t, link, journal, "-o", "writeback_delay=60")
	tarball, src := smallFilesTar(t, 200, 3000)
	sh(t, m.mnt, "tar -xpf "+tarball)
	cmd.Process.Kill()
	cmd.Wait()
	exec.Command("fusermount3", "-u", "-z", m.mnt).Run()
	left := len(journalFiles(t, journal))
	if left == 0 {
		t.Fatalf("every file was uploaded before the kill; the test proves nothing (log: %s)", tail(log.String(), 5))
	}
	t.Logf("%d records (files and directory times) left in the journal by the kill", left)
	// Through the same link: the journal is for the remote as named,
	// port and all.
	cmd2 := exec.Command(binary, remoteSpec(m.remote), m.mnt, "-f", "-o", "writeback_dir="+journal)
	cmd2.Args = append(cmd2.Args, link.args()...)
	cmd2.Env = append(baseEnv(), home(t)...)
	log2 := serveInForeground(t, cmd2, m.mnt)
	if !strings.Contains(log2.String(), "left in the journal") {
		t.Errorf("the remount does not say it uploads what was left:\n%s", log2.String())
	}
	if code := endOf(t, cmd2, m.mnt, 2*time.Minute); code != 0 {
		t.Fatalf("the remount exited %d: %s", code, log2.String())
	}
	if got, want := describedFiles(t, m.remote), describedFiles(t, src); got != want {
		t.Fatalf("served directory after the remount differs:\n%s", lineDiff(got, want))
	}
	if n := len(journalFiles(t, journal)); n != 0 {
		t.Errorf("%d records left in the journal", n)
	}
}

// A full server disk: close returns (the data is in the journal), and the
// unmount exits non-zero naming each file, which stays in the journal;
// once there is room, the next mount uploads them.
func TestWritebackFullServerDiskFailsTheUnmountNamingTheFilesAndKeepsThem(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	cmd, log, m := startWriteback(t, nil, journal)
	small := filepath.Join(m.remote, "small")
	smallTmpfs(t, small, "256k")
	sh(t, m.mnt, "for i in 1 2 3; do head -c 200000 /dev/urandom > small/big$i; done")
	sums := sh(t, m.mnt, "sha256sum small/big*")
	code := endOf(t, cmd, m.mnt, 2*time.Minute)
	if code != 10 {
		t.Fatalf("sftpmount exited %d after an unmount with files not uploaded, want 10; stderr:\n%s", code, tail(log.String(), 20))
	}
	named := 0
	for i := 1; i <= 3; i++ {
		if strings.Contains(log.String(), fmt.Sprintf("/small/big%d: no space left on device", i)) {
			named++
		}
	}
	if named < 2 { // at most one fits
		t.Errorf("stderr names %d of the files that could not be uploaded:\n%s", named, tail(log.String(), 20))
	}
	if left := journalFiles(t, journal); len(left) != named {
		var recs []string
		for _, f := range left {
			b, _ := os.ReadFile(f)
			recs = append(recs, string(b))
		}
		t.Errorf("%d records in the journal, want the %d named:\n%s\n%s", len(left), named, strings.Join(recs, "\n"), tail(log.String(), 30))
	}
	sh(t, "/", "mount -o remount,size=4m "+small)
	cmd2 := exec.Command(binary, remoteSpec(m.remote), m.mnt, "-f", "-o", "writeback,writeback_dir="+journal)
	cmd2.Args = append(cmd2.Args, standardArgs()...)
	cmd2.Env = append(baseEnv(), home(t)...)
	log2 := serveInForeground(t, cmd2, m.mnt)
	if code := endOf(t, cmd2, m.mnt, 2*time.Minute); code != 0 {
		t.Fatalf("the remount exited %d: %s", code, log2.String())
	}
	if got := sh(t, m.remote, "sha256sum small/big*"); got != sums {
		t.Errorf("the server once there was room:\n%s\nwant:\n%s", got, sums)
	}
}

// The link reset and sshd restarted while the queue uploads: it resumes,
// and nothing is lost.
func TestWritebackQueueResumesAfterLinkResetAndSshdRestart(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 20)
	journal := filepath.Join(t.TempDir(), "journal")
	// Held until the sync below, so that the faults land among them.
	cmd, log, m := startWriteback(t, link, journal, "-o", "timeout=10,writeback_delay=120")
	tarball, src := smallFilesTar(t, 300, 4000)
	sh(t, m.mnt, "tar -xpf "+tarball)
	synced := make(chan result, 1)
	go func() { synced <- runBinary(t, home(t), "sync", m.mnt) }()
	time.Sleep(150 * time.Millisecond)
	link.reset(t)
	time.Sleep(150 * time.Millisecond)
	if err := server.restart(); err != nil {
		t.Fatal(err)
	}
	link.reset(t)
	if r := <-synced; r.code != 0 {
		t.Errorf("sftpmount sync exited %d: %s\n%s", r.code, r.stderr, tail(log.String(), 30))
	}
	if code := endOf(t, cmd, m.mnt, 3*time.Minute); code != 0 {
		t.Fatalf("sftpmount exited %d: %s", code, tail(log.String(), 30))
	}
	if got, want := describedFiles(t, m.remote), describedFiles(t, src); got != want {
		t.Fatalf("served directory differs:\n%s", lineDiff(got, want))
	}
	if left := journalFiles(t, journal); len(left) != 0 {
		b, _ := os.ReadFile(left[0])
		t.Errorf("%d records left in the journal, the first: %s\n%s", len(left), b, tail(log.String(), 30))
	}
	if !strings.Contains(log.String(), "reconnecting") {
		t.Errorf("no reconnect in the log: the faults missed the uploads")
	}
}

// The fsx exerciser in write-back mode with the link reset every second:
// its file lives in the journal, is uploaded at each fsync and close,
// and the server's copy matches the model once synced.
func TestWritebackFsxWithResetsMatchesTheModel(t *testing.T) {
	needServer(t)
	link := newSlowLink(t, 0)
	journal := filepath.Join(t.TempDir(), "journal")
	ops := min(fsxOps(8000), 8000) // long enough for several resets
	m := mountWatched(t, link, 3*time.Minute+time.Duration(ops)*10*time.Millisecond, "-o", "timeout=10,writeback,writeback_dir="+journal)
	resets, stop := resetEvery(t, link, time.Second)
	defer stop()
	summary, err := fsxThen(filepath.Join(m.mnt, "fsx"), filepath.Join(m.remote, "fsx"), fsxSeeds(8)[0], ops, func() error {
		if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
			return fmt.Errorf("sftpmount sync exited %d: %s", r.code, r.stderr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resets.Load() < 1 {
		t.Errorf("the link was never reset during the run: it proves nothing of resets")
	}
	t.Logf("%s; the link was reset %d times", summary, resets.Load())
}

// lineDiff lists the lines got has more of (+) and want has more of (-).
func lineDiff(got, want string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	g, w := count(got), count(want)
	var b strings.Builder
	for l, n := range g {
		if n > w[l] {
			fmt.Fprintf(&b, "+ %s (%d against %d)\n", l, n, w[l])
		}
	}
	for l, n := range w {
		if n > g[l] {
			fmt.Fprintf(&b, "- %s (%d against %d)\n", l, n, g[l])
		}
	}
	return b.String()
}

// describedFiles is described without directories' sizes, which depend
// on the names a directory has held (the uploads' temporary names).
func describedFiles(t *testing.T, dir string) string {
	t.Helper()
	return sh(t, dir, `find . -mindepth 1 | sort | while read -r f; do
		if [ -d "$f" ]; then echo "$(stat -c '%n %a %u %g %Y' "$f")"; else
		echo "$(stat -c '%n %s %a %u %g %Y' "$f") $(sha256sum < "$f" | cut -c1-16)"; fi; done`)
}

// A git clone into a background mount with write-back and the default
// journal (under the isolated HOME): once unmounted, the server's copy is
// a whole, clean repository with every file's bytes.
func TestWritebackGitCloneIsWholeOnTheServerAfterUnmount(t *testing.T) {
	src := t.TempDir()
	sh(t, src, `mkdir -p repo/a/b && cd repo && for i in $(seq 1 60); do head -c $((i * 97)) /dev/urandom | base64 > a/f$i; done
		echo hi > a/b/deep && git init -q && git add -A && git -c user.name=t -c user.email=t@example.org commit -qm one`)
	m := mount(t, "-o", "writeback")
	const git = "git -c safe.directory='*' "
	sh(t, m.mnt, "git clone -q file://"+filepath.Join(src, "repo")+" w && cd w && test -z \"$("+git+"status --porcelain)\"")
	st := runBinary(t, home(t), "status", m.mnt)
	if st.code != 0 || !strings.Contains(st.stdout, "write-back: on") || !strings.Contains(st.stdout, "/.local/state/sftpmount/journal/") {
		t.Errorf("sftpmount status exited %d:\n%s%s", st.code, st.stdout, st.stderr)
	}
	var journal string
	for _, l := range strings.Split(st.stdout, "\n") {
		if j, ok := strings.CutPrefix(l, "journal: "); ok {
			journal = j
		}
	}
	if len(journalFiles(t, journal)) == 0 {
		t.Errorf("nothing waits in the journal %q right after the clone: the unmount waits for nothing", journal)
	}
	pids := processesServing(m.mnt)
	if out, err := exec.Command("fusermount3", "-u", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u: %v %s", err, out)
	}
	// The background process uploads what is left, then exits.
	if !waitFor(2*time.Minute, func() bool {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil {
				return false
			}
		}
		return true
	}) {
		t.Fatal("sftpmount still running 2 minutes after the unmount")
	}
	if left := journalFiles(t, journal); len(left) != 0 {
		t.Errorf("%d records left in the journal after the unmount", len(left))
	}
	served := filepath.Join(m.remote, "w")
	if out, err := shErr(served, git+"--no-optional-locks status --porcelain && "+git+"fsck --no-progress 2>&1"); err != nil || out != "" {
		t.Errorf("the server's clone: %v %q", err, out)
	}
	if out, err := shErr("/", "diff -r -x .git "+filepath.Join(src, "repo")+" "+served); err != nil {
		t.Errorf("the server's clone differs from the repository: %v %s", err, out)
	}
}

// What the server would refuse is refused at once, not at the upload: a
// file in a directory the remote user cannot write (EACCES at the
// create), a chown to another owner (EPERM); tar's chown to the owner the
// file has costs nothing and the file goes.
func TestWritebackRefusesAtOnceWhatTheServerWouldRefuse(t *testing.T) {
	m := mountAs(t, testUser, "-o", "writeback,writeback_dir="+filepath.Join(t.TempDir(), "journal"))
	sh(t, m.remote, "mkdir ro && chown root:root ro && chmod 0755 ro")
	out, err := shErr(m.mnt, "echo x > ro/f")
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("a file in a directory the remote user cannot write: %v %q", err, out)
	}
	sh(t, m.mnt, "echo mine > f && chown $(stat -c %u:%g f) f")
	out, err = shErr(m.mnt, "echo y > g && chown 1234 g")
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("chown to another owner: %v %q", err, out)
	}
	if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Fatalf("sftpmount sync exited %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if got := readFile(t, filepath.Join(m.remote, "f")) + readFile(t, filepath.Join(m.remote, "g")); got != "mine\ny\n" {
		t.Errorf("on the server: %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.remote, "ro", "f")); err == nil {
		t.Errorf("ro/f was made on the server")
	}
}

// Hours of use in seconds: with a 1 s cache timeout and a 1 s delay
// before uploads, a process keeps writing and renaming files through the
// mount while another client writes into the same directories on the
// server, for many timeouts. Every listing through the mount shows both
// sides' files, every read gives the right bytes, and after a sync the
// server has everything the mount wrote, under its final name.
func TestWritebackThroughManyTimeoutsWhileAnotherClientWritesTheSameDirectories(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	_, log, m := startWriteback(t, nil, journal, "-o", "cache_timeout=1,writeback_delay=1")
	sh(t, m.mnt, "mkdir d")
	const rounds = 24
	for i := 0; i < rounds; i++ {
		// Ours: a file written under a temporary name and renamed, as
		// editors and git do, and one left as written.
		sh(t, m.mnt, fmt.Sprintf("echo ours%d > d/.tmp%d && mv d/.tmp%d d/ours%d && echo plain%d > d/plain%d", i, i, i, i, i, i))
		writeFile(t, filepath.Join(m.remote, "d", fmt.Sprintf("theirs%d", i)), fmt.Sprintf("theirs%d\n", i), 0644)
		if i%4 == 3 {
			time.Sleep(1100 * time.Millisecond) // past the timeout and the delay: uploads land meanwhile
		}
		listed := sh(t, m.mnt, "ls d")
		for j := 0; j <= i; j++ {
			for _, name := range []string{"ours", "plain"} {
				if !strings.Contains(listed, fmt.Sprintf("%s%d\n", name, j)) {
					t.Fatalf("round %d: ls does not show %s%d:\n%s", i, name, j, listed)
				}
			}
		}
		if i > 0 {
			// Another client's file is found within the timeouts (1 s
			// for an absent name, 1 s for a listing), while ours keep
			// coming.
			prev := fmt.Sprintf("theirs%d", i-1)
			if !waitFor(2500*time.Millisecond, func() bool {
				b, err := os.ReadFile(filepath.Join(m.mnt, "d", prev))
				return err == nil && string(b) == prev+"\n"
			}) {
				t.Fatalf("round %d: %s not seen through the mount within 2.5 s", i, prev)
			}
		}
		if strings.Contains(listed, ".tmp") || strings.Contains(listed, "sftpmount-wb") {
			t.Fatalf("round %d: ls shows a temporary name:\n%s", i, listed)
		}
	}
	if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Fatalf("sftpmount sync exited %d: %s", r.code, r.stderr)
	}
	for i := 0; i < rounds; i++ {
		for _, name := range []string{"ours", "plain", "theirs"} {
			p := filepath.Join(m.remote, "d", fmt.Sprintf("%s%d", name, i))
			if got := readFile(t, p); got != fmt.Sprintf("%s%d\n", name, i) {
				t.Errorf("%s on the server: %q", p, got)
			}
		}
	}
	if n := strings.TrimSpace(sh(t, m.remote, "ls -A d | wc -l")); n != strconv.Itoa(3*rounds) {
		t.Errorf("the server's d holds %s names, want %d:\n%s", n, 3*rounds, sh(t, m.remote, "ls -A d"))
	}
	if strings.Contains(log.String(), "conflict") {
		t.Errorf("a conflict was seen where there was none:\n%s", tail(log.String(), 20))
	}
}

// A conflict found by an fsync while the file is still open for writing:
// the server's file stays, ours goes beside, and what is written after
// the fsync goes beside too, not lost.
func TestWritebackConflictFoundByAnFsyncKeepsLaterWritesBeside(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	_, log, m := startWriteback(t, nil, journal)
	f, err := os.Create(filepath.Join(m.mnt, "y"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("ours\n")
	writeFile(t, filepath.Join(m.remote, "y"), "theirs\n", 0644)
	if err := f.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	f.WriteString("more\n")
	if err := f.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	syncThenBoth(t, m, "y", "theirs\n", "ours\nmore\n")
	if !strings.Contains(log.String(), "still open for writing") {
		t.Errorf("no line says the file was open:\n%s", tail(log.String(), 10))
	}
}

// syncThenBoth runs sftpmount sync and checks that the server holds
// theirs at name and ours at the one name beside it.
func syncThenBoth(t *testing.T, m *mounted, name, theirs, ours string) {
	t.Helper()
	if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Fatalf("sftpmount sync exited %d: %s", r.code, r.stderr)
	}
	if got := readFile(t, filepath.Join(m.remote, name)); got != theirs {
		t.Errorf("%s on the server: %q, want the server's own", name, got)
	}
	beside, _ := filepath.Glob(filepath.Join(m.remote, name+".sftpmount-conflict-*"))
	var got string
	if len(beside) == 1 {
		got = readFile(t, beside[0])
	}
	if got != ours {
		t.Fatalf("ours beside %s: %v %q, want %q", name, beside, got, ours)
	}
}
