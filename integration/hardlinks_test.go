//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// groups is names grouped by inode number under dir: "a=b=c" for each
// number held by more than one name, sorted.
func groups(t *testing.T, dir string, names ...string) string {
	t.Helper()
	by := map[uint64][]string{}
	for _, n := range names {
		ino := inodeOf(t, filepath.Join(dir, n))
		by[ino] = append(by[ino], n)
	}
	var out []string
	for _, ns := range by {
		if len(ns) > 1 {
			out = append(out, strings.Join(ns, "="))
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// Names the server linked, never through the mount, are one object: one
// inode number, the same through several cache timeouts and after a
// remount, so tar -c and rsync -aH out of the mount store links, not
// copies. A look-alike pair (same bytes, mode, times and link count) is
// another object, and a name the server makes a copy of leaves the node.
func TestNamesTheServerLinkedAreOneObjectForTarAndRsync(t *testing.T) {
	opts := []string{"-o", "cache_timeout=1"}
	m := mount(t, opts...)
	sh(t, m.remote, `mkdir -p d/sub other && echo data > d/a && ln d/a d/b && ln d/a d/sub/c && ln d/a other/e &&
		cp -p d/a d/twin && ln d/twin d/twin2 && touch -r d/a d/a d/twin`)
	names := []string{"d/a", "d/b", "d/sub/c", "other/e", "d/twin", "d/twin2"}
	want := groups(t, m.remote, names...)
	if want != "d/a=d/b=d/sub/c=other/e d/twin=d/twin2" {
		t.Fatalf("the served tree's links: %q", want)
	}
	// Tools list a directory before they stat what is in it.
	sh(t, m.mnt, "ls -lR > /dev/null")
	if got := groups(t, m.mnt, names...); got != want {
		t.Errorf("through the mount the names group as %q, on the server %q", got, want)
	}
	first := inodeOf(t, filepath.Join(m.mnt, "d/a"))
	// readdir's numbers (ls -i) are stat's, once the server has answered.
	for _, line := range strings.Split(strings.TrimSpace(sh(t, filepath.Join(m.mnt, "d"), "ls -i1")), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("ls -i1: %q", line)
		}
		if st := strconv.FormatUint(inodeOf(t, filepath.Join(m.mnt, "d", f[1])), 10); st != f[0] {
			t.Errorf("d/%s: ls -i says %s, stat says %s", f[1], f[0], st)
		}
	}

	// tar -c: as many link entries as tar of the server's tree.
	local := t.TempDir()
	sh(t, m.mnt, "tar -cf "+filepath.Join(local, "mnt.tar")+" d other")
	sh(t, m.remote, "tar -cf "+filepath.Join(local, "srv.tar")+" d other")
	linksIn := func(tarball string) int {
		return strings.Count(sh(t, local, "tar -tvf "+tarball), " link to ")
	}
	if got, want := linksIn("mnt.tar"), linksIn("srv.tar"); got != want || want != 4 {
		t.Errorf("tar -c out of the mount stored %d links, of the server's tree %d (want 4)", got, want)
	}
	// rsync -aH: the copy's links are the server's.
	sh(t, local, "rsync -aH "+m.mnt+"/ copy/")
	if got := groups(t, filepath.Join(local, "copy"), names...); got != want {
		t.Errorf("rsync -aH out of the mount: the copy's names group as %q, want %q", got, want)
	}

	// Through several cache timeouts, then a remount.
	for i := 0; i < 3; i++ {
		time.Sleep(1100 * time.Millisecond)
		sh(t, m.mnt, "ls -lR > /dev/null")
		if got := groups(t, m.mnt, names...); got != want {
			t.Errorf("after %d timeouts the names group as %q", i+1, got)
		}
	}
	remountOn(t, m, standardArgs(), opts...)
	sh(t, m.mnt, "ls -lR > /dev/null")
	if got := groups(t, m.mnt, names...); got != want {
		t.Errorf("after a remount the names group as %q", got)
	}
	if got := inodeOf(t, filepath.Join(m.mnt, "d/a")); got != first {
		t.Errorf("d/a's inode number changed across the remount: %d, then %d", first, got)
	}
	remountOn(t, m, standardArgs(), opts...)
	sh(t, m.mnt, "ls -lR other > /dev/null && ls -lR d > /dev/null") // other/e met first, alone
	if got := groups(t, m.mnt, names...); got != want {
		t.Errorf("after a remount meeting other/e first the names group as %q", got)
	}

	// The server replaces d/b with a copy: another object, after a timeout.
	sh(t, m.remote, "cp d/a d/b.new && mv d/b.new d/b")
	time.Sleep(1100 * time.Millisecond)
	sh(t, m.mnt, "ls -lR > /dev/null")
	got := groups(t, m.mnt, names...)
	if got != "d/a=d/sub/c=other/e d/twin=d/twin2" {
		t.Errorf("after the server made d/b a copy the names group as %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(m.mnt, "d/b")); err != nil || string(b) != "data\n" {
		t.Errorf("d/b reads %q, %v", b, err)
	}
	// A write through one name is seen through the others, and on the server.
	if err := os.WriteFile(filepath.Join(m.mnt, "other/e"), []byte("changed\n"), 0644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"d/a", "d/sub/c"} {
		if got := readFile(t, filepath.Join(m.mnt, n)); got != "changed\n" {
			t.Errorf("%s after a write to other/e reads %q", n, got)
		}
		if got := readFile(t, filepath.Join(m.remote, n)); got != "changed\n" {
			t.Errorf("the server's %s after a write to other/e holds %q", n, got)
		}
	}
}

// With -o separate_links, names the server linked are separate files, as
// sshfs shows them, and their count is still the server's.
func TestSeparateLinksShowsNamesTheServerLinkedAsSeparateFiles(t *testing.T) {
	m := mount(t, "-o", "separate_links")
	sh(t, m.remote, "echo data > a && ln a b && cp -p a twin && ln twin twin2")
	sh(t, m.mnt, "ls -l > /dev/null")
	if got := groups(t, m.mnt, "a", "b", "twin", "twin2"); got != "" {
		t.Errorf("with separate_links the names group as %q", got)
	}
	if k := statT(t, filepath.Join(m.mnt, "b")).Nlink; k != 2 {
		t.Errorf("b shows %d links, the server has 2", k)
	}
}

// Link counts and which names are one file do not depend on the order in
// which the mount first meets a file: stat before the listing, the
// listing first, an open first, two stats and no listing, past a cache
// timeout, after a remount. Once a listing has shown the count, every
// name agrees with stat, with ls -li and with the others: one number,
// the server's count.
func TestLinkCountsAndIdentityDoNotDependOnTheOrderOfFirstContact(t *testing.T) {
	opts := []string{"-o", "cache_timeout=1"}
	m := mount(t, opts...)
	orders := map[string]string{
		"stat first":         "stat -c %h D/a > /dev/null && ls -l D > /dev/null",
		"listing first":      "ls -l D > /dev/null && stat D/a > /dev/null",
		"open first":         "cat D/a > /dev/null && ls -l D > /dev/null",
		"both stats first":   "stat D/b > /dev/null && stat D/a > /dev/null && ls -l D > /dev/null",
		"past a timeout":     "stat D/a > /dev/null && sleep 1.2 && ls -lR D > /dev/null",
		"a walk":             "find . -path ./D/b -newer /dev/null -o -name nothing > /dev/null && ls -lR > /dev/null",
		"a link in a subdir": "stat D/sub/c > /dev/null && ls -l D/sub > /dev/null && ls -l D > /dev/null",
	}
	i := 0
	dirs := map[string]string{}
	for order := range orders {
		dir := fmt.Sprintf("h%d", i)
		i++
		dirs[order] = dir
		sh(t, m.remote, "mkdir -p "+dir+"/sub && echo x > "+dir+"/a && ln "+dir+"/a "+dir+"/b && ln "+dir+"/a "+dir+"/sub/c && echo y > "+dir+"/alone")
	}
	check := func(when, dir string) {
		t.Helper()
		names := []string{dir + "/a", dir + "/b", dir + "/sub/c"}
		if got, want := groups(t, m.mnt, names...), strings.Join(names, "="); got != want {
			t.Errorf("%s: through the mount the names group as %q, on the server %q", when, got, want)
		}
		for _, n := range names {
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(m.mnt, n), &st); err != nil || st.Nlink != 3 {
				t.Errorf("%s: %s shows %d links (%v); the server has 3", when, n, st.Nlink, err)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(sh(t, filepath.Join(m.mnt, dir), "ls -li a b")), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[2] != "3" || f[0] != strconv.FormatUint(inodeOf(t, filepath.Join(m.mnt, dir, "a")), 10) {
				t.Errorf("%s: ls -li: %q; want a's number and 3 links", when, line)
			}
		}
	}
	for order, script := range orders {
		sh(t, m.mnt, strings.ReplaceAll(script, "D", dirs[order]))
		check(order, dirs[order])
	}
	remountOn(t, m, standardArgs(), opts...)
	for order, script := range orders {
		sh(t, m.mnt, strings.ReplaceAll(script, "D", dirs[order]))
		check("after a remount, "+order, dirs[order])
	}
}

// btrfs subvolumes and snapshots share a mount and number their inodes
// alike (every subvolume's first file is 257): two subvolumes, each with
// a file f and its link g, all four alike in size, mtime, mode and owner.
// Through the mount each name shows its own bytes and link count, and the
// names group within each subvolume only.
func TestNamesOnBtrfsSubvolumesAreOneFileOnlyWithinTheirSubvolume(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	dir := filepath.Join(m.remote, "bt")
	mountBtrfs(t, dir)
	sh(t, dir, `btrfs -q subvolume create A && btrfs -q subvolume create B &&
		printf AAAA > A/f && printf BBBB > B/f && touch -d 2020-01-01 A/f B/f && ln A/f A/g && ln B/f B/g &&
		printf CCCC > A/h && touch -d 2020-01-01 A/h && ln A/h A/i`)
	if a, b := inodeOf(t, filepath.Join(dir, "A/f")), inodeOf(t, filepath.Join(dir, "B/f")); a != b {
		t.Logf("the subvolumes' first files are %d and %d (the case is when they are equal)", a, b)
	}
	names := []string{"bt/A/f", "bt/A/g", "bt/B/f", "bt/B/g", "bt/A/h", "bt/A/i"}
	check := func(when string) {
		t.Helper()
		if got, want := groups(t, m.mnt, names...), "bt/A/f=bt/A/g bt/A/h=bt/A/i bt/B/f=bt/B/g"; got != want {
			t.Errorf("%s: the names group as %q, want %q", when, got, want)
		}
		for _, n := range names {
			want := map[byte]string{'A': "AAAA", 'B': "BBBB"}[n[3]]
			if n[5] == 'h' || n[5] == 'i' {
				want = "CCCC"
			}
			if got := readFile(t, filepath.Join(m.mnt, n)); got != want {
				t.Errorf("%s: %s reads %q, the server has %q", when, n, got, want)
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(m.mnt, n), &st); err != nil || st.Nlink != 2 {
				t.Errorf("%s: %s shows %d links (%v), the server 2", when, n, st.Nlink, err)
			}
		}
	}
	sh(t, m.mnt, "ls -lR bt > /dev/null")
	check("listed")
	time.Sleep(1100 * time.Millisecond)
	sh(t, m.mnt, "stat bt/B/f > /dev/null && ls -lR bt > /dev/null") // B met first, after a timeout
	check("after a cache timeout")
	remountOn(t, m, standardArgs(), "-o", "cache_timeout=1")
	sh(t, m.mnt, "cat bt/A/g > /dev/null && ls -lR bt/B bt/A > /dev/null")
	check("after a remount")
}

// mountBtrfs makes a btrfs filesystem on a loop device and mounts it at
// dir (made), undone when the test ends. Outside CI a machine without
// btrfs skips, saying so; in CI it fails.
func mountBtrfs(t *testing.T, dir string) {
	t.Helper()
	need := func(what string, err error, out []byte) {
		t.Helper()
		if err == nil {
			return
		}
		msg := fmt.Sprintf("btrfs: %s: %v: %s", what, err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (the kernel or btrfs-progs is missing; install-deps.sh installs btrfs-progs)")
	}
	img := filepath.Join(t.TempDir(), "btrfs.img")
	out, err := exec.Command("truncate", "-s", "160M", img).CombinedOutput()
	need("truncate", err, out)
	out, err = exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	need("losetup", err, out)
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	out, err = exec.Command("mkfs.btrfs", "-q", dev).CombinedOutput()
	need("mkfs.btrfs", err, out)
	if err := os.MkdirAll(dir, 0755); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("mount", "-t", "btrfs", dev, dir).CombinedOutput()
	need("mount", err, out)
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

// A name the mount knows as a regular file with links, swapped for a
// FIFO on the server: asking which file it is must not open the FIFO
// (that blocks the server's sftp-server until a writer comes, and so the
// channel, until the connection is given up). The lookups that ask
// answer at once, nothing reconnects, and the FIFO shows as one.
func TestAFIFOSwappedInForALinkedFileDoesNotHangTheMount(t *testing.T) {
	_, log, m := startForeground(t, "-o", "cache_timeout=1")
	sh(t, m.remote, "mkdir d && echo data > d/a && ln d/a d/b")
	sh(t, m.mnt, "ls -l d > /dev/null")
	if got := groups(t, m.mnt, "d/a", "d/b"); got != "d/a=d/b" {
		t.Fatalf("before the swap: %q", got)
	}
	time.Sleep(1100 * time.Millisecond) // the answers about a and b expire
	sh(t, m.remote, "rm d/b && mkfifo d/b && ln d/a d/c")
	start := time.Now()
	if out, err := shErrWithin(m.mnt, "stat d/c > /dev/null && cat d/a && stat -c %F d/b", 10*time.Second); err != nil || !strings.Contains(out, "fifo") {
		t.Fatalf("after the swap: %q, %v", out, err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the lookups after the swap took %v", took)
	}
	if strings.Contains(log.String(), "reconnecting") {
		t.Errorf("the connection was given up:\n%s", log.String())
	}
	if got := readFile(t, filepath.Join(m.mnt, "d/c")); got != "data\n" {
		t.Errorf("c reads %q", got)
	}
}
