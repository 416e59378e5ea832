//go:build linux

package integration

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Identity across time: a mount that is lived in for hours sees many cache
// timeouts, reconnects, renames and remounts. Each test here runs with
// cache_timeout=1 so that a few seconds cover many timeouts.

// inodeOf is st_ino of path (lstat), failing the test if it cannot be had.
func inodeOf(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// inodesOf is inodeOf of each name under root.
func inodesOf(t *testing.T, root string, names ...string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, n := range names {
		m[n] = inodeOf(t, filepath.Join(root, n))
	}
	return m
}

// sameInodes fails unless every name has the number it had.
func sameInodes(t *testing.T, when string, want, got map[string]uint64) {
	t.Helper()
	for name, ino := range want {
		if got[name] != ino {
			t.Errorf("%s: %s has inode %d, had %d", when, name, got[name], ino)
		}
	}
}

// lsInodesAgreeWithStat checks `ls -ia` (readdir's numbers) against
// lstat's for every entry of dir, and that no two entries share one.
func lsInodesAgreeWithStat(t *testing.T, dir string) {
	t.Helper()
	out := sh(t, dir, "ls -ia1")
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(strings.TrimSpace(line), " ", 2)
		if len(f) != 2 || f[1] == "." || f[1] == ".." {
			continue
		}
		if other, dup := seen[f[0]]; dup {
			t.Errorf("%s: %s and %s both listed with inode %s", dir, other, f[1], f[0])
		}
		seen[f[0]] = f[1]
		if st := strconv.FormatUint(inodeOf(t, filepath.Join(dir, f[1])), 10); st != f[0] {
			t.Errorf("%s/%s: ls -i says %s, stat says %s", dir, f[1], f[0], st)
		}
	}
	if len(seen) == 0 {
		t.Errorf("ls -ia of %s listed nothing: %q", dir, out)
	}
}

// remountOn unmounts m and mounts the same served directory again on the
// same mountpoint, with the same connection arguments and options.
func remountOn(t *testing.T, m *mounted, conn []string, extra ...string) {
	t.Helper()
	if out, err := exec.Command("fusermount3", "-u", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u: %v: %s", err, out)
	}
	if !waitFor(10*time.Second, func() bool { return len(processesServing(m.mnt)) == 0 }) {
		t.Fatal("sftpmount still running after its unmount")
	}
	args := append(append([]string{remoteSpec(m.remote), m.mnt}, conn...), extra...)
	if r := runBinary(t, home(t), args...); r.code != 0 {
		t.Fatalf("remount exited %d: %s", r.code, r.stderr)
	}
}

func TestAnObjectKeepsItsInodeNumberAcrossTimeoutsReconnectsRenamesAndRemounts(t *testing.T) {
	link := newSlowLink(t, 0)
	opts := []string{"-o", "cache_timeout=1"}
	m := mountThrough(t, link, opts...)
	sh(t, m.remote, "mkdir -p a/b keep/deep && echo one > a/b/f && echo two > top && echo three > keep/deep/g")
	names := []string{"a", "a/b", "a/b/f", "top", "keep", "keep/deep", "keep/deep/g"}
	before := inodesOf(t, m.mnt, names...)
	distinct := map[uint64]string{inodeOf(t, m.mnt): "."}
	for name, ino := range before {
		if ino <= 1 || ino >= 1<<63 {
			t.Errorf("%s has inode %d: not a number of ours (2 to 2^63)", name, ino)
		}
		if other, dup := distinct[ino]; dup {
			t.Errorf("%s and %s share inode %d", name, other, ino)
		}
		distinct[ino] = name
	}
	if root := inodeOf(t, m.mnt); root != 1 {
		t.Errorf("the mount's root has inode %d, want 1", root)
	}
	lsInodesAgreeWithStat(t, m.mnt)
	lsInodesAgreeWithStat(t, filepath.Join(m.mnt, "a/b"))

	// The directories' mtimes change: files made in them, through the
	// mount and on the server.
	for i := 0; i < 3; i++ {
		writeFile(t, filepath.Join(m.mnt, "a/b", fmt.Sprintf("ours%d", i)), "x", 0644)
		writeFile(t, filepath.Join(m.remote, "a", fmt.Sprintf("theirs%d", i)), "y", 0644)
		time.Sleep(1200 * time.Millisecond)
		sh(t, m.mnt, "ls -l a a/b >/dev/null")
		sameInodes(t, fmt.Sprintf("after timeout %d", i+1), before, inodesOf(t, m.mnt, names...))
	}
	lsInodesAgreeWithStat(t, filepath.Join(m.mnt, "a"))

	// chmod, chown and utimes answer with the attributes the kernel keeps.
	sh(t, m.mnt, "chmod 600 top && chmod 700 keep && touch -d 2001-01-01 top keep/deep && chown 0:0 keep/deep/g")
	sameInodes(t, "after chmod, chown and touch", before, inodesOf(t, m.mnt, names...))
	lsInodesAgreeWithStat(t, m.mnt)

	link.reset(t)
	sameInodes(t, "after a reconnect", before, inodesOf(t, m.mnt, names...))

	// Renames through the mount: the file, then a directory above it.
	sh(t, m.mnt, "mv a/b/f a/b/f2 && mv a moved")
	if got := inodeOf(t, filepath.Join(m.mnt, "moved/b/f2")); got != before["a/b/f"] {
		t.Errorf("a/b/f moved to moved/b/f2: inode %d, had %d", got, before["a/b/f"])
	}
	renamed := map[string]uint64{"moved": before["a"], "moved/b": before["a/b"], "moved/b/f2": before["a/b/f"]}
	sameInodes(t, "after the renames", renamed, inodesOf(t, m.mnt, "moved", "moved/b", "moved/b/f2"))
	time.Sleep(1200 * time.Millisecond)
	sameInodes(t, "after the renames and a timeout", renamed, inodesOf(t, m.mnt, "moved", "moved/b", "moved/b/f2"))
	if _, err := os.Stat(filepath.Join(m.remote, "moved/b/f2")); err != nil {
		t.Errorf("on the server: %v", err)
	}
	// A new object at a renamed-away name is another object.
	writeFile(t, filepath.Join(m.remote, "a"), "new", 0644)
	time.Sleep(1200 * time.Millisecond)
	if got := inodeOf(t, filepath.Join(m.mnt, "a")); got == before["a"] {
		t.Errorf("a new file at a, while the directory once there lives on as moved, has its inode %d", got)
	}
	lsInodesAgreeWithStat(t, m.mnt)

	// After a remount every path the tree did not move has its number;
	// a moved one has its new path's, the same on every mount.
	unmoved := []string{"top", "keep", "keep/deep", "keep/deep/g"}
	remountOn(t, m, link.args(), opts...)
	sameInodes(t, "after a remount", inodesOf(t, m.mnt, unmoved...), before)
	first := inodesOf(t, m.mnt, "moved", "moved/b", "moved/b/f2")
	remountOn(t, m, link.args(), opts...)
	sameInodes(t, "after a second remount", first, inodesOf(t, m.mnt, "moved", "moved/b", "moved/b/f2"))
	lsInodesAgreeWithStat(t, filepath.Join(m.mnt, "keep/deep"))
}

func TestAHardLinkMadeThroughTheMountSharesItsNumberAndIsCountedOnce(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	sh(t, m.mnt, "mkdir d && head -c 100000 /dev/urandom > d/f && ln d/f d/g && ln d/f h")
	for i := 0; i < 3; i++ {
		f, g, h := inodeOf(t, filepath.Join(m.mnt, "d/f")), inodeOf(t, filepath.Join(m.mnt, "d/g")), inodeOf(t, filepath.Join(m.mnt, "h"))
		if f != g || f != h {
			t.Fatalf("round %d: hard links have inodes %d, %d, %d", i, f, g, h)
		}
		if links := strings.TrimSpace(sh(t, m.mnt, "stat -c %h d/f")); links != "3" {
			t.Errorf("round %d: st_nlink %s, want 3", i, links)
		}
		time.Sleep(1200 * time.Millisecond)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(m.remote, "d/g"), &st); err != nil || st.Nlink != 3 {
		t.Fatalf("on the server: nlink %d, %v", st.Nlink, err)
	}
	// du counts a file with several links once, as on the server.
	ours := strings.Fields(sh(t, m.mnt, "du -s --apparent-size -B1 --inodes ."))[0]
	theirs := strings.Fields(sh(t, m.remote, "du -s --apparent-size -B1 --inodes ."))[0]
	if ours != theirs {
		t.Errorf("du --inodes: %s in the mount, %s on the server", ours, theirs)
	}
	sh(t, m.mnt, "rm d/g")
	if links := strings.TrimSpace(sh(t, m.mnt, "stat -c %h d/f")); links != "2" {
		t.Errorf("after rm of one name: st_nlink %s, want 2", links)
	}
	if inodeOf(t, filepath.Join(m.mnt, "h")) != inodeOf(t, filepath.Join(m.mnt, "d/f")) {
		t.Error("the remaining links no longer share a number")
	}
}

// A shell that sits in a directory for many cache timeouts while this
// mount and the server change that directory and its parent keeps its
// working directory: pwd, relative opens, sh -c and git all work.
func TestAProcessKeepsItsWorkingDirectoryThroughManyCacheTimeoutsWhileOthersChangeIt(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	git := "git -c user.email=t@example.com -c user.name=t"
	sh(t, m.mnt, "mkdir -p proj/sub && cd proj && "+git+" init -q && echo hi > sub/marker && "+git+" add -A && "+git+" commit -qm init")
	cwd := filepath.Join(m.mnt, "proj/sub")
	script := `
want=$(/bin/pwd); end=$((SECONDS+13)); i=0
while [ $SECONDS -lt $end ]; do
  p=$(/bin/pwd) || { echo "FAIL pwd"; exit 1; }
  [ "$p" = "$want" ] || { echo "FAIL pwd says $p, was $want"; exit 1; }
  [ "$(sh -c 'pwd -P')" = "$want" ] || { echo "FAIL sh -c pwd"; exit 1; }
  # The directory it sits in is the one its path names now.
  [ "$(stat -c %i .)" = "$(stat -c %i "$want")" ] || { echo "FAIL . is $(stat -c %i .), $want is $(stat -c %i "$want")"; exit 1; }
  [ "$(cat ./marker)" = hi ] || { echo "FAIL relative open"; exit 1; }
  ` + git + ` status --porcelain >/dev/null || { echo "FAIL git status"; exit 1; }
  echo "from $i" > ./mine.$((i % 3)) || { echo "FAIL relative create"; exit 1; }
  i=$((i+1)); sleep 0.2
done
echo "ok $i"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = cwd
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // others change the directory and its parent meanwhile
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			for _, dir := range []string{filepath.Join(m.remote, "proj"), filepath.Join(m.remote, "proj/sub"), filepath.Join(m.mnt, "proj"), cwd} {
				name := filepath.Join(dir, fmt.Sprintf("churn%d", i%4))
				os.WriteFile(name, []byte("x"), 0644)
				os.Rename(name, name+".r")
				if i%2 == 0 {
					os.Remove(name + ".r")
				}
			}
			exec.Command("ls", "-l", filepath.Join(m.mnt, "proj"), cwd).Run()
		}
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		err = <-done
	}
	close(stop)
	wg.Wait()
	if err != nil || !strings.HasPrefix(strings.TrimSpace(out.String()), "ok ") {
		t.Fatalf("the process in %s: %v: %s", cwd, err, out.String())
	}
	rounds, _ := strconv.Atoi(strings.Fields(out.String())[1])
	if rounds < 10 {
		t.Errorf("only %d rounds in 13 s", rounds)
	}
	for i := 0; i < 3 && i < rounds; i++ {
		if _, err := os.Stat(filepath.Join(m.remote, "proj/sub", fmt.Sprintf("mine.%d", i))); err != nil {
			t.Errorf("on the server: %v", err)
		}
	}
}

// parkedIn starts a shell in dir that runs first, prints "ready", waits
// for a line on its stdin, and then runs then: a process that sits in a
// directory while the test changes things around it.
func parkedIn(t *testing.T, dir, first, then string) (*exec.Cmd, io.Writer, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command("bash", "-c", first+"; echo ready; read; "+then)
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitFor(10*time.Second, func() bool { return strings.Contains(out.String(), "ready") }) {
		t.Fatalf("the process in %s: %s", dir, out.String())
	}
	return cmd, stdin, out
}

// workTreeOpens counts the opens of work-tree files (outside .git) the
// -d log shows after offset.
func workTreeOpens(log string, offset int, repo string) []string {
	re := regexp.MustCompile(`open "/` + regexp.QuoteMeta(repo) + `/([^"]+)": ok`)
	var opened []string
	for _, m := range re.FindAllStringSubmatch(log[offset:], -1) {
		if !strings.HasPrefix(m[1], ".git/") {
			opened = append(opened, m[1])
		}
	}
	return opened
}

// git decides whether a file changed by its stat data, st_ino included:
// with numbers that hold across timeouts and remounts, a clean tree made
// through the mount is seen clean without opening any of its files. This
// is the mount's own numbering, where no bulk answer tells the server's
// (remote_commands=no): with bulk answers a tree made through the mount
// shows the server's numbers and change times from its first remount on,
// and git reads each file once then (tree_test.go has that case).
func TestGitStatusOpensNoWorkTreeFileAfterManyTimeoutsOrARemount(t *testing.T) {
	opts := []string{"-o", "cache_timeout=1", "-o", "remote_commands=no"}
	cmd, log, m := startForeground(t, opts...)
	git := "git -c user.email=t@example.com -c user.name=t"
	sh(t, m.mnt, `mkdir repo && cd repo && `+git+` init -q && for d in a b c; do mkdir $d; for i in $(seq 20); do echo "$d $i" > $d/f$i.go; done; done && `+git+` add -A && `+git+` commit -qm init`)
	repo := filepath.Join(m.mnt, "repo")
	// The index is written in the second the files were: git re-reads
	// such "racily clean" files once, and then writes the index again.
	time.Sleep(1100 * time.Millisecond)
	sh(t, repo, "git status --porcelain >/dev/null")

	status := func(when string, log *lockedBuffer, offset int) {
		t.Helper()
		if out := sh(t, repo, "git status --porcelain"); strings.TrimSpace(out) != "" {
			t.Errorf("%s: git status says %q, want a clean tree", when, out)
		}
		time.Sleep(200 * time.Millisecond) // the log line may trail the reply
		if opened := workTreeOpens(log.String(), offset, "repo"); len(opened) > 0 {
			t.Errorf("%s: git status opened %d work-tree files: %v", when, len(opened), opened[:min(5, len(opened))])
		}
	}
	time.Sleep(10 * 1100 * time.Millisecond) // ten cache timeouts
	offset := len(log.String())
	status("after ten cache timeouts", log, offset)
	// And the log is the right place to look: touching a file makes git
	// open it.
	sh(t, m.remote, "touch -d '2001-01-01' repo/a/f1.go")
	time.Sleep(1100 * time.Millisecond)
	offset = len(log.String())
	sh(t, repo, "git status --porcelain")
	time.Sleep(200 * time.Millisecond)
	if opened := workTreeOpens(log.String(), offset, "repo"); len(opened) != 1 || opened[0] != "a/f1.go" {
		t.Errorf("after touching a/f1.go on the server git opened %v", opened)
	}
	sh(t, repo, "git status --porcelain >/dev/null") // writes the refreshed index

	exec.Command("fusermount3", "-u", m.mnt).Run()
	exitsWithin(t, cmd, 10*time.Second)
	args := append([]string{remoteSpec(m.remote), m.mnt, "-f", "-d"}, standardArgs()...)
	again := exec.Command(binary, append(args, opts...)...)
	again.Env = append(baseEnv(), home(t)...)
	log2 := serveInForeground(t, again, m.mnt)
	status("after a remount", log2, len(log2.String()))
}

// A name whose type changed on the server is a new object: a process that
// sat in the old directory gets ENOENT or ESTALE, as on NFS, and lookups
// see the new file. A file rewritten on the server keeps its number and is
// read anew once the timeout has passed.
func TestAnObjectReplacedOnTheServerIsANewObjectAndARewrittenFileKeepsItsNumber(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	sh(t, m.remote, "mkdir d && echo inside > d/x && echo 'version 1' > f")
	dirIno, fileIno := inodeOf(t, filepath.Join(m.mnt, "d")), inodeOf(t, filepath.Join(m.mnt, "f"))
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "version 1\n" {
		t.Fatalf("read %q", got)
	}
	held, err := os.Open(filepath.Join(m.mnt, "d"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cmd, stdin, out := parkedIn(t, filepath.Join(m.mnt, "d"), `cat x >/dev/null || exit 9`, `ls . 2>&1; echo "ls=$?"; cat ./x 2>&1; echo "cat=$?"`)

	sh(t, m.remote, "rm -r d && echo 'a file now' > d && echo 'version 2' > f && touch -d '2001-02-03' f")
	time.Sleep(1200 * time.Millisecond)
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(m.mnt, "d"), &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Fatalf("d after the change: mode %o, %v; want a regular file", st.Mode, err)
	}
	if st.Ino == dirIno {
		t.Errorf("the new file d has the old directory's inode %d while it is still held", st.Ino)
	}
	if got := readFile(t, filepath.Join(m.mnt, "d")); got != "a file now\n" {
		t.Errorf("d reads %q", got)
	}
	fmt.Fprintln(stdin)
	cmd.Wait()
	for _, want := range []string{"ls=2", "cat=1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the process in the replaced directory: %q, want %s", out.String(), want)
		}
	}
	if !strings.Contains(out.String(), "No such file or directory") && !strings.Contains(out.String(), "Stale file handle") {
		t.Errorf("the process in the replaced directory saw %q, want ENOENT or ESTALE", out.String())
	}
	if _, err := held.Stat(); err == nil {
		t.Error("fstat of the replaced directory's open descriptor succeeded")
	}

	if got := inodeOf(t, filepath.Join(m.mnt, "f")); got != fileIno {
		t.Errorf("f rewritten on the server: inode %d, had %d", got, fileIno)
	}
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "version 2\n" {
		t.Errorf("f rewritten on the server (same size, new mtime) reads %q", got)
	}
}

// A walk that takes longer than several cache timeouts sees one
// unchanging tree: no loop, no "changed as we read it", hard links
// counted once.
func TestAWalkSpanningManyCacheTimeoutsSeesOneUnchangingTree(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	sh(t, m.mnt, `for d in $(seq 8); do mkdir -p t/d$d/e; for i in $(seq 25); do head -c $((i*100)) /dev/zero > t/d$d/e/f$i; done; ln t/d$d/e/f1 t/d$d/link; done`)
	time.Sleep(1100 * time.Millisecond)
	// tar sleeps at its checkpoints, so the walk spans several timeouts.
	out, err := shErrWithin(m.mnt, "tar -c --warning=all --checkpoint=20 --checkpoint-action=sleep=1 -f /dev/null t 2>&1; echo tar=$?", 2*time.Minute)
	if err != nil || !strings.Contains(out, "tar=0") || strings.Contains(out, "changed") || strings.Contains(out, "loop") {
		t.Errorf("tar -c over a walk of several timeouts: %v: %s", err, out)
	}
	out, err = shErrWithin(m.mnt, `find t -exec sh -c 'sleep 0.02' \; -print 2>&1 | sort | md5sum; echo "find=${PIPESTATUS[0]}"`, 2*time.Minute)
	if err != nil || !strings.Contains(out, "find=0") {
		t.Errorf("find over a walk of several timeouts: %v: %s", err, out)
	}
	if strings.Contains(out, "loop") {
		t.Errorf("find: %s", out)
	}
	want := strings.TrimSpace(sh(t, m.remote, "find t -print | sort | md5sum"))
	if !strings.Contains(out, want) {
		t.Errorf("find in the mount listed other names than on the server: %s vs %s", out, want)
	}
	ours := strings.Fields(sh(t, m.mnt, "du -s --inodes t"))[0]
	theirs := strings.Fields(sh(t, m.remote, "du -s --inodes t"))[0]
	if ours != theirs {
		t.Errorf("du --inodes: %s in the mount, %s on the server (hard links counted once there)", ours, theirs)
	}
}

// A process whose working directory is inside a directory moved through
// the mount keeps working there, under the new name.
func TestAProcessInADirectoryMovedThroughTheMountKeepsWorking(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	sh(t, m.mnt, "mkdir -p a/b && echo hi > a/b/x")
	cmd, stdin, out := parkedIn(t, filepath.Join(m.mnt, "a/b"), "true", `/bin/pwd; cat ./x; stat -c %i .; echo made > ./y`)
	sh(t, m.mnt, "mv a c")
	time.Sleep(1200 * time.Millisecond)
	fmt.Fprintln(stdin)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the process in the moved directory: %v: %s", err, out.String())
	}
	want := fmt.Sprintf("ready\n%s\nhi\n%d\n", filepath.Join(m.mnt, "c/b"), inodeOf(t, filepath.Join(m.mnt, "c/b")))
	if out.String() != want {
		t.Errorf("the process in the moved directory printed %q, want %q", out.String(), want)
	}
	if got := readFile(t, filepath.Join(m.remote, "c/b/y")); got != "made\n" {
		t.Errorf("its file on the server: %q", got)
	}
	if found := strings.TrimSpace(sh(t, m.mnt, fmt.Sprintf("find . -inum %d", inodeOf(t, filepath.Join(m.mnt, "c/b/x"))))); found != "./c/b/x" {
		t.Errorf("find -inum found %q, want ./c/b/x", found)
	}
}
