//go:build linux

package integration

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The write-back journal is trusted only where its owner alone could
// have written it, only for the remote it names, and only record by
// record: what another local user plants, a record that leaves the
// served directory, bytes that are a link to another file, a journal
// of another remote, are never uploaded.

// sharedDir is a directory every local user may write, as /tmp is
// (mode 1777), for a test's planted files.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(workDir, fmt.Sprintf("shared-%d", dirSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, os.ModeSticky|0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// asOtherUser runs script with sh as testUser, a second local user.
func asOtherUser(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command("runuser", "-u", testUser, "--", "sh", "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as %s: %v: %s", testUser, err, out)
	}
}

// rootOnlyFile is a file of root's, mode 0600, outside every served
// directory.
func rootOnlyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(workDir, fmt.Sprintf("secret-%d", dirSeq.Add(1)))
	writeFile(t, p, "root only\n", 0o600)
	t.Cleanup(func() { os.Remove(p) })
	return p
}

// plantJournalScript is the shell that writes, in the current directory,
// a journal for remote dir served at server's port: a record whose path
// climbs out of the served directory, and one whose bytes are a symlink
// to secret (its size 3: the mount would cut the file to it).
func plantJournalScript(served, secret, escape string) string {
	rec := func(id, path string, size int) string {
		return fmt.Sprintf(`{"id":"%s","path":"%s","mode":420,"atime":1,"mtime":1,"size":%d,"made":%d}`, id, path, size, size)
	}
	return fmt.Sprintf(`: > lock
printf '%%s' '{"user":"root","host":"127.0.0.1","port":%d,"dir":"%s"}' > remote
printf 'planted\n' > 1-aa.data
printf '%%s' '%s' > 1-aa.meta
ln -s %s 2-bb.data
printf '%%s' '%s' > 2-bb.meta
chmod -R a+rwX .
`, server.port, served, rec("1-aa", "../"+escape, 8), secret, rec("2-bb", "stolen", 3))
}

// A second local user plants a journal for root's mount of a served
// directory in a shared writeback_dir, and in a shared XDG_STATE_HOME
// at the journal's default name, a lock file with it. The mount refuses
// the journal (with -o writeback or a writeback_dir it was given: one
// line; without either: it mounts and leaves it alone); nothing is
// written outside the served directory, the root-only file is neither
// uploaded nor cut, and the planted files stay as they were.
func TestAJournalPlantedByAnotherLocalUserIsNeverUsed(t *testing.T) {
	needServer(t)
	served := newServedDir(t, "root")
	secret := rootOnlyFile(t)
	escape := fmt.Sprintf("escaped-%d", dirSeq.Add(1))
	shared := sharedDir(t)
	asOtherUser(t, shared, "mkdir -m 0777 j && cd j && "+plantJournalScript(served, secret, escape))
	target := fmt.Sprintf("root@127.0.0.1:%d", server.port)
	sum := sha256.Sum256([]byte(target + ":" + served))
	byDefault := fmt.Sprintf("state/sftpmount/journal/%s-%x", strings.ReplaceAll(target, ":", "_"), sum[:6])
	asOtherUser(t, shared, fmt.Sprintf("mkdir -p -m 0777 %s && cd %s && %s", byDefault, byDefault, plantJournalScript(served, secret, escape)))
	before := snapshot(t, shared)

	mnt := newMountpoint(t)
	cleanupMount(t, mnt)
	h := isolatedHome(t)
	args := append([]string{remoteSpec(served), mnt}, standardArgs()...)
	line := refused(t, ExitConfigCode, []string{"HOME=" + h}, append(args, "-o", "writeback_dir="+filepath.Join(shared, "j"))...)
	if !strings.Contains(line, filepath.Join(shared, "j")) {
		t.Errorf("the refusal does not name the journal: %q", line)
	}
	state := []string{"HOME=" + h, "XDG_STATE_HOME=" + filepath.Join(shared, "state")}
	line = refused(t, ExitConfigCode, state, append(args, "-o", "writeback")...)
	if !strings.Contains(line, "journal") {
		t.Errorf("the refusal does not say it is the journal: %q", line)
	}
	// Without -o writeback the planted lock and records open nothing.
	r := runBinary(t, state, args...)
	if r.code != 0 || !isMounted(mnt) {
		t.Fatalf("a mount without write-back: exit %d: %s", r.code, r.stderr)
	}
	time.Sleep(500 * time.Millisecond) // an upload would have begun
	if out, err := exec.Command("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u: %v %s", err, out)
	}
	waitFor(10*time.Second, func() bool { return len(processesServing(mnt)) == 0 })

	if names := sh(t, served, "ls -A"); names != "" {
		t.Errorf("the served directory holds %q", names)
	}
	if _, err := os.Lstat(filepath.Join(workDir, escape)); err == nil {
		t.Errorf("a file was written outside the served directory: %s", filepath.Join(workDir, escape))
	}
	if got := readFile(t, secret); got != "root only\n" {
		t.Errorf("the root-only file now holds %q", got)
	}
	if after := snapshot(t, shared); after != before {
		t.Errorf("the planted files changed:\n%s\nwas\n%s", after, before)
	}
}

// ExitConfigCode is sftpmount's ExitConfig (9): a local file named in
// the options is wrong.
const ExitConfigCode = 9

// leaveInJournal mounts served dir remote with write-back into journal,
// writes each name (its own name as content) and kills the mount with
// -9 before any upload, leaving their records.
func leaveInJournal(t *testing.T, m *mounted, journal string, names ...string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{remoteSpec(m.remote), m.mnt, "-f", "-o", "writeback,writeback_delay=300,writeback_dir=" + journal}, standardArgs()...)...)
	cmd.Env = append(baseEnv(), home(t)...)
	log := serveInForeground(t, cmd, m.mnt)
	for _, n := range names {
		writeFile(t, filepath.Join(m.mnt, n), n+"\n", 0o644)
	}
	cmd.Process.Kill()
	cmd.Wait()
	exec.Command("fusermount3", "-u", "-z", m.mnt).Run()
	if got := len(journalFiles(t, journal)); got != len(names) {
		t.Fatalf("%d records in the journal after the kill, want %d: %s", got, len(names), log.String())
	}
}

// recordOf finds the record (.meta) whose path is name.
func recordOf(t *testing.T, journal, name string) string {
	t.Helper()
	for _, p := range journalFiles(t, journal) {
		if strings.Contains(readFile(t, p), `"path":"`+name+`"`) {
			return p
		}
	}
	t.Fatalf("no record for %s in %s", name, journal)
	return ""
}

// A journal of the user's own, its records changed after a kill -9:
// one record's path climbs out of the served directory, another's
// bytes are a symlink to a root-only file, a third's are a hard link
// to it. The next mount uploads the untouched record, names each bad
// one in a line and sets it aside under another name, and uploads
// nothing of them; the root-only file is neither read nor cut.
func TestBadRecordsInTheJournalAreSetAsideNamedAndNeverUploaded(t *testing.T) {
	needServer(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	journal := filepath.Join(t.TempDir(), "journal")
	leaveInJournal(t, m, journal, "good", "climbs", "linked", "hard")
	secret := rootOnlyFile(t)
	escape := fmt.Sprintf("escaped-%d", dirSeq.Add(1))
	climbs := recordOf(t, journal, "climbs")
	writeFile(t, climbs, strings.Replace(readFile(t, climbs), `"path":"climbs"`, `"path":"../`+escape+`"`, 1), 0o600)
	linked := strings.TrimSuffix(recordOf(t, journal, "linked"), ".meta") + ".data"
	os.Remove(linked)
	if err := os.Symlink(secret, linked); err != nil {
		t.Fatal(err)
	}
	hard := strings.TrimSuffix(recordOf(t, journal, "hard"), ".meta") + ".data"
	os.Remove(hard)
	if err := os.Link(secret, hard); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(binary, append([]string{remoteSpec(m.remote), m.mnt, "-f", "-o", "writeback_dir=" + journal}, standardArgs()...)...)
	cmd.Env = append(baseEnv(), home(t)...)
	log := serveInForeground(t, cmd, m.mnt)
	if code := endOf(t, cmd, m.mnt, 2*time.Minute); code != 0 {
		t.Errorf("the remount exited %d: %s", code, log.String())
	}
	if got := sh(t, m.remote, "ls -A"); got != "good\n" {
		t.Errorf("the served directory holds %q, want only good", got)
	}
	if got := readFile(t, filepath.Join(m.remote, "good")); got != "good\n" {
		t.Errorf("good on the server: %q", got)
	}
	if _, err := os.Lstat(filepath.Join(workDir, escape)); err == nil {
		t.Errorf("a file was written outside the served directory: %s", filepath.Join(workDir, escape))
	}
	if got := readFile(t, secret); got != "root only\n" {
		t.Errorf("the root-only file now holds %q", got)
	}
	for _, bad := range []string{climbs, linked, hard} {
		id := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(bad), ".meta"), ".data")
		if n := strings.Count(log.String(), id); n != 1 {
			t.Errorf("the log names %s %d times, want once:\n%s", id, n, log.String())
		}
		if aside, _ := filepath.Glob(filepath.Join(journal, id+".*.set-aside")); len(aside) != 2 {
			t.Errorf("%s set aside as %v", id, aside)
		}
	}
	if left := journalFiles(t, journal); len(left) != 0 {
		t.Errorf("records still to upload: %v", left)
	}
}

// Two remotes given one writeback_dir: a file written for A's directory
// and left by a kill -9 is refused by a mount of B, with one line naming
// both, and B's directory is untouched; the next mount of A uploads it.
func TestAJournalOfOneRemoteIsRefusedByAMountOfAnother(t *testing.T) {
	needServer(t)
	a := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	journal := filepath.Join(t.TempDir(), "journal")
	leaveInJournal(t, a, journal, "fromA")
	b := newServedDir(t, "root")
	cleanupMount(t, a.mnt)
	line := refused(t, ExitConfigCode, home(t), append([]string{remoteSpec(b), a.mnt, "-o", "writeback_dir=" + journal}, standardArgs()...)...)
	if !strings.Contains(line, a.remote) || !strings.Contains(line, b) {
		t.Errorf("the refusal does not name both directories (%s, %s): %q", a.remote, b, line)
	}
	if got := sh(t, b, "ls -A"); got != "" {
		t.Errorf("B's directory holds %q", got)
	}
	r := runBinary(t, home(t), append([]string{remoteSpec(a.remote), a.mnt, "-o", "writeback_dir=" + journal}, standardArgs()...)...)
	if r.code != 0 {
		t.Fatalf("the mount of A: exit %d: %s", r.code, r.stderr)
	}
	if !waitFor(30*time.Second, func() bool { b, _ := os.ReadFile(filepath.Join(a.remote, "fromA")); return string(b) == "fromA\n" }) {
		t.Errorf("A's file did not reach A's directory")
	}
}
