//go:build linux

package integration

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bulk metadata (fs/tree.go, remote/tree.go): where the server runs
// commands, the mount learns a subtree's inode numbers, change times,
// link counts and nanosecond mtimes from one find, and shows them.

// serverStat is lstat of rel in the served directory, on this machine.
func serverStat(t *testing.T, root, rel string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(root, rel), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// mountStat is lstat of rel through the mount.
func mountStat(t *testing.T, mnt, rel string) syscall.Stat_t {
	t.Helper()
	return serverStat(t, mnt, rel)
}

// st_ino, st_nlink, st_ctime and st_mtime (to the nanosecond) of names
// made on the server, hard links across directories among them, are the
// server's through the mount, whichever name is met first and after a
// remount: git's index, written on the server, matches them.
func TestInodeNumbersLinksAndChangeTimesAreTheServers(t *testing.T) {
	opts := []string{"-o", "cache_timeout=1"}
	m := mount(t, opts...)
	sh(t, m.remote, `mkdir -p a b c/d && echo x > a/x && ln a/x b/y && ln a/x c/d/w &&
		echo z > a/z && touch -d '2020-01-02 03:04:05.123456789' a/z && ln -s y b/s`)
	names := []string{"a", "b", "c/d", "a/x", "b/y", "c/d/w", "a/z", "b/s"}
	check := func(when string) {
		t.Helper()
		for _, n := range names {
			srv, got := serverStat(t, m.remote, n), mountStat(t, m.mnt, n)
			if got.Ino != srv.Ino {
				t.Errorf("%s: %s: st_ino %d, the server's %d", when, n, got.Ino, srv.Ino)
			}
			if got.Ctim != srv.Ctim || got.Mtim != srv.Mtim {
				t.Errorf("%s: %s: ctime %v mtime %v, the server's %v %v", when, n, got.Ctim, got.Mtim, srv.Ctim, srv.Mtim)
			}
			if n != "a" && n != "b" && n != "c/d" && got.Nlink != srv.Nlink {
				t.Errorf("%s: %s: %d links, the server's %d", when, n, got.Nlink, srv.Nlink)
			}
		}
		if out := strings.TrimSpace(sh(t, m.remote, "stat -c '%i %Z' a/x")); out != strings.TrimSpace(sh(t, m.mnt, "stat -c '%i %Z' a/x")) {
			t.Errorf("%s: stat -c '%%i %%Z' a/x: the server says %q, the mount %q", when, out, sh(t, m.mnt, "stat -c '%i %Z' a/x"))
		}
	}
	if line := bulkLine(t, m.mnt); !strings.HasPrefix(line, "bulk metadata: not asked yet") {
		t.Errorf("status before any walk: %q", line)
	}
	sh(t, m.mnt, "stat a/x > /dev/null && stat b/y > /dev/null")
	if line := bulkLine(t, m.mnt); !strings.HasPrefix(line, "bulk metadata: on: GNU find") {
		t.Errorf("status after a walk: %q, want the bulk metadata on", line)
	}
	check("a/x met first")
	time.Sleep(1100 * time.Millisecond)
	check("after a cache timeout")
	remountOn(t, m, standardArgs(), opts...)
	sh(t, m.mnt, "stat c/d/w > /dev/null && stat b/y > /dev/null && ls -lR > /dev/null")
	check("after a remount, c/d/w met first")
	if got, want := groups(t, m.mnt, "a/x", "b/y", "c/d/w"), "a/x=b/y=c/d/w"; got != want {
		t.Errorf("the names group as %q, want %q", got, want)
	}
}

// Without commands on the server (-o remote_commands=no) the mount does
// as before: numbers are its own, from each name's path, not the server's.
func TestWithoutRemoteCommandsNumbersAreThePathsAsBefore(t *testing.T) {
	m := mount(t, "-o", "remote_commands=no")
	sh(t, m.remote, "mkdir a && echo x > a/x")
	if got, srv := mountStat(t, m.mnt, "a/x").Ino, serverStat(t, m.remote, "a/x").Ino; got == srv {
		t.Errorf("st_ino %d is the server's with remote_commands=no", got)
	}
	if st := mountStat(t, m.mnt, "a/x"); st.Ctim != st.Mtim {
		t.Errorf("ctime %v is not the mtime %v where the server's is unknown", st.Ctim, st.Mtim)
	}
}

// A repository cloned and checked out on the server: git status through
// a fresh mount finds it clean without opening one work-tree file (the
// -d log shows every open), because the index's inode numbers, change
// times and nanosecond mtimes are what the mount shows.
func TestGitStatusOfAWorkTreeMadeOnTheServerOpensNoFile(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	cmd, log, m := startForeground(t)
	git := "git -c user.email=t@example.com -c user.name=t"
	sh(t, m.remote, `mkdir repo && cd repo && `+git+` init -q && for d in $(seq 12); do mkdir -p d$d/sub; for i in $(seq 12); do echo "$d $i" > d$d/f$i.c; echo "$i" > d$d/sub/g$i.h; done; done && `+git+` add -A && `+git+` commit -qm init`)
	// git re-reads files written in the index's own second ("racily
	// clean") once, and writes the index again.
	time.Sleep(1100 * time.Millisecond)
	sh(t, filepath.Join(m.remote, "repo"), "git status --porcelain > /dev/null")

	offset := len(log.String())
	if out := sh(t, filepath.Join(m.mnt, "repo"), "git status --porcelain"); strings.TrimSpace(out) != "" {
		t.Errorf("git status through the mount says %q, want a clean tree", out)
	}
	time.Sleep(200 * time.Millisecond) // the log line may trail the reply
	if opened := workTreeOpens(log.String(), offset, "repo"); len(opened) > 0 {
		t.Errorf("git status opened %d of 288 work-tree files: %v", len(opened), opened[:min(5, len(opened))])
	}
	if !strings.Contains(log.String(), "bulk metadata: on") {
		t.Errorf("the -d log does not say the mode")
	}

	// The numbers are the server's: after a remount too.
	exec.Command("fusermount3", "-u", m.mnt).Run()
	exitsWithin(t, cmd, 10*time.Second)
	args := append([]string{remoteSpec(m.remote), m.mnt, "-f", "-d"}, standardArgs()...)
	again := exec.Command(binary, args...)
	again.Env = append(baseEnv(), home(t)...)
	log2 := serveInForeground(t, again, m.mnt)
	if out := sh(t, filepath.Join(m.mnt, "repo"), "git status --porcelain"); strings.TrimSpace(out) != "" {
		t.Errorf("after a remount git status says %q, want a clean tree", out)
	}
	time.Sleep(200 * time.Millisecond)
	if opened := workTreeOpens(log2.String(), 0, "repo"); len(opened) > 0 {
		t.Errorf("after a remount git status opened %d work-tree files: %v", len(opened), opened[:min(5, len(opened))])
	}
}

// A tree made through the mount and committed through it: git's index
// holds what the mount showed then (its own numbers for new files). From
// the first remount on the mount shows the server's numbers and change
// times, git reads each file once and writes its index again, and from
// then on reads none, across remounts.
func TestGitStatusOfATreeMadeThroughTheMountSettlesAfterOneRemount(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	m := mount(t)
	git := "git -c user.email=t@example.com -c user.name=t"
	sh(t, m.mnt, `mkdir repo && cd repo && `+git+` init -q && for d in a b; do mkdir $d; for i in $(seq 20); do echo "$d $i" > $d/f$i.go; done; done && `+git+` add -A && `+git+` commit -qm init`)
	time.Sleep(1100 * time.Millisecond)
	repo := filepath.Join(m.mnt, "repo")
	for i, want := range []string{"first", "second", "third"} {
		remountOn(t, m, standardArgs())
		if out := sh(t, repo, "git status --porcelain"); strings.TrimSpace(out) != "" {
			t.Errorf("%s remount: git status says %q, want a clean tree", want, out)
		}
		if i > 0 {
			ino := mountStat(t, m.mnt, "repo/a/f1.go").Ino
			if out := sh(t, m.remote, "git -C repo ls-files --debug a/f1.go | grep ino:"); !strings.Contains(out, fmt.Sprintf("ino: %d", ino)) {
				t.Errorf("%s remount: the index says %q, the mount shows ino %d", want, strings.TrimSpace(out), ino)
			}
		}
	}
}

// A directory find may not read (find only complains on its stderr,
// which the mount does not read) is not taken for empty: listing it
// through the mount fails as the server refuses, and what may be listed
// lists. (Taking find's silence for an empty listing fails it.)
func TestADirectoryTheServerWillNotListIsNotTakenForEmpty(t *testing.T) {
	m := mountAs(t, testUser)
	sh(t, m.remote, "mkdir -p a/locked/inner a/open && touch a/locked/inner/f a/open/g a/x && chmod 0 a/locked && chmod 0311 a/open")
	if out := sh(t, m.mnt, "ls a | sort | tr '\\n' ' '"); out != "locked open x " {
		t.Errorf("ls a: %q", out)
	}
	for _, d := range []string{"a/locked", "a/open"} {
		if out, err := shErr(m.mnt, "ls "+d); err == nil {
			t.Errorf("ls %s through the mount: %q, no error; the server refuses it", d, out)
		}
	}
	if _, err := shErr(m.mnt, "stat a/open/g"); err != nil {
		t.Errorf("a/open/g, searchable but not readable: %v", err)
	}
}

// Over -o ssh_command the bulk request runs as a second run of the
// user's command (remote.Config.Exec): the server's numbers show there
// too.
func TestBulkMetadataOverSSHCommand(t *testing.T) {
	needServer(t)
	wrapper, _ := sshWrapper(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	sh(t, m.remote, "mkdir a b && echo x > a/x && ln a/x b/y")
	r := runBinary(t, home(t), append([]string{remoteSpec(m.remote), m.mnt, "-o", "ssh_command=" + wrapper}, standardArgs()...)...)
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	for _, n := range []string{"b/y", "a/x"} {
		if got, srv := mountStat(t, m.mnt, n), serverStat(t, m.remote, n); got.Ino != srv.Ino || got.Ctim != srv.Ctim || got.Nlink != 2 {
			t.Errorf("%s: ino %d ctime %v nlink %d, the server's %d %v %d", n, got.Ino, got.Ctim, got.Nlink, srv.Ino, srv.Ctim, srv.Nlink)
		}
	}
}

// A server that does not answer a bulk request within -o timeout (here a
// command that never starts) is not asked again for a while: the walks
// list as before, instead of each waiting out a request of its own.
func TestABulkRequestThatTimesOutIsNotMadeAgainAtOnce(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "ssh-wrapper")
	writeFile(t, wrapper, "#!/bin/sh\ncase \"$*\" in *sftpmount-tree*) exec sleep 600;; esac\nexec ssh -oBatchMode=yes \"$@\"\n", 0755)
	_, log, m := startForegroundWith(t, standardArgs(), "-o", "ssh_command="+wrapper, "-o", "timeout=2")
	sh(t, m.remote, "for d in a b c d e; do mkdir $d && echo x > $d/x; done")
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		if got := sh(t, m.mnt, "cat "+d+"/x"); got != "x\n" {
			t.Errorf("%s/x reads %q", d, got)
		}
	}
	if n := strings.Count(log.String(), "  exec find "); n != 1 {
		t.Errorf("%d bulk requests made; after the first failed, none for a while", n)
	}
}

// The first git status after a remount of a tree made through the mount
// reads every file again (git's index holds the numbers the first mount
// showed; the server's show now): the directories' bulk answers give the
// walk its order, so git's reads, in name order, find the next files
// fetched ahead rather than asking for each (at 50 ms, 279 files: 33.5 s
// before, see docs/benchmarks.md).
func TestGitStatusAfterARemountReadsTheFilesFetchedAhead(t *testing.T) {
	m := mount(t)
	git := "git -c user.email=t@example.com -c user.name=t -c safe.directory='*'"
	sh(t, m.mnt, `mkdir repo && cd repo && `+git+` init -q && for d in a b; do mkdir $d; for i in $(seq 10 39); do echo "$d $i" > $d/f$i.go; done; done && `+git+` add -A && `+git+` commit -qm init`)
	time.Sleep(1100 * time.Millisecond)
	if err := exec.Command("fusermount3", "-u", m.mnt).Run(); err != nil {
		t.Fatal(err)
	}
	m2, log := mountServed(t, m.remote, standardArgs())
	if out := sh(t, filepath.Join(m2.mnt, "repo"), git+" status --porcelain"); strings.TrimSpace(out) != "" {
		t.Fatalf("git status after the remount: %q, want a clean tree", out)
	}
	logged(t, log, 0, `release "/repo/b/f39.go"`, 1)
	opened, ahead := 0, 0
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, ` open "/repo/a/f`) || strings.Contains(l, ` open "/repo/b/f`) {
			opened++
			if strings.HasSuffix(l, "fetched ahead") {
				ahead++
			}
		}
	}
	t.Logf("git status after a remount opened %d files, %d on bytes fetched ahead", opened, ahead)
	if opened < 60 || ahead < opened-8 {
		t.Errorf("git status after a remount opened %d files, %d on bytes fetched ahead; want all 60, all but the first few ahead:\n%s", opened, ahead, log.String())
	}
}
