//go:build linux

package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpenWithOTruncEmptiesTheServersFile(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "old content", 0644)
	f, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi := statInfo(t, filepath.Join(m.remote, "f")); fi.Size() != 0 {
		t.Fatalf("server size %d after O_TRUNC", fi.Size())
	}
}

func TestTwoAppendingWritersLoseNothing(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "log"), "start\n", 0644)
	a, err := os.OpenFile(filepath.Join(m.mnt, "log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := os.OpenFile(filepath.Join(m.mnt, "log"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var want strings.Builder
	want.WriteString("start\n")
	for i := 0; i < 20; i++ {
		w, line := a, "a"+strconv.Itoa(i)+"\n"
		if i%2 == 1 {
			w, line = b, "b"+strconv.Itoa(i)+"\n"
		}
		if _, err := w.WriteString(line); err != nil {
			t.Fatal(err)
		}
		want.WriteString(line)
	}
	if got := readFile(t, filepath.Join(m.remote, "log")); got != want.String() {
		t.Fatalf("server log:\n%s\nwant:\n%s", got, want.String())
	}
}

// A writer and an appender on one file, one after the other: each append
// lands after the write before it, which may still be queued when the
// append comes (the server appends at the end of its copy).
func TestAppendAfterAnotherHandlesWriteLandsAfterIt(t *testing.T) {
	m := mount(t)
	path := filepath.Join(m.mnt, "f")
	writeFile(t, filepath.Join(m.remote, "f"), "", 0644)
	w, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	block := bytes.Repeat([]byte{'a'}, 200<<10)
	var want []byte
	for i := 0; i < 20; i++ {
		if _, err := w.WriteAt(block, int64(len(want))); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte{'X'}); err != nil {
			t.Fatal(err)
		}
		want = append(append(want, block...), 'X')
	}
	for _, f := range []*os.File{w, a} {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(m.remote, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("server: %d bytes, %d of them X, the first at %d; want %d, every %d bytes an X", len(got), bytes.Count(got, []byte{'X'}), bytes.IndexByte(got, 'X'), len(want), len(block)+1)
	}
}

func TestSparseFileReadsZerosAndDataPast4GiB(t *testing.T) {
	m := mount(t)
	f, err := os.Create(filepath.Join(m.mnt, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const far = 5 << 30
	if _, err := f.WriteAt([]byte("start"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("at5GiB"), far); err != nil {
		t.Fatalf("write at 5 GiB: %v", err)
	}
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 1<<20); err != nil || !bytes.Equal(buf, make([]byte, 4096)) {
		t.Fatalf("hole did not read as zeros: %v", err)
	}
	got := make([]byte, 6)
	if _, err := f.ReadAt(got, far); err != nil || string(got) != "at5GiB" {
		t.Fatalf("read at 5 GiB: %q %v", got, err)
	}
	fi := statInfo(t, filepath.Join(m.remote, "sparse"))
	if fi.Size() != far+6 {
		t.Fatalf("server size %d, want %d", fi.Size(), far+6)
	}
	if blocks := fi.Sys().(*syscall.Stat_t).Blocks; blocks*512 > 1<<20 {
		t.Errorf("server file is not sparse: %d blocks", blocks)
	}
	rf, _ := os.Open(filepath.Join(m.remote, "sparse"))
	defer rf.Close()
	rf.ReadAt(got, far)
	if string(got) != "at5GiB" {
		t.Fatalf("server bytes at 5 GiB: %q", got)
	}
}

func TestFtruncateWhileOpenShrinksAndGrowsOnServer(t *testing.T) {
	m := mount(t)
	f, err := os.Create(filepath.Join(m.mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strings.Repeat("x", 100))
	if err := f.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(m.remote, "f")); got != strings.Repeat("x", 10) {
		t.Fatalf("after shrink: %q", got)
	}
	if err := f.Truncate(20); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(m.remote, "f")); got != strings.Repeat("x", 10)+strings.Repeat("\x00", 10) {
		t.Fatalf("after grow: %q", got)
	}
	if fi, _ := f.Stat(); fi.Size() != 20 {
		t.Fatalf("fstat size %d", fi.Size())
	}
}

func TestReadsAtAndPastEndOfFileReturnNothing(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "0123456789", 0644)
	f, err := os.Open(filepath.Join(m.mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 8)
	if n, _ := f.ReadAt(buf, 6); n != 4 || string(buf[:n]) != "6789" {
		t.Fatalf("read across EOF: %q", buf[:n])
	}
	for _, off := range []int64{10, 11, 1 << 33} {
		if n, err := syscall.Pread(int(f.Fd()), buf, off); n != 0 || err != nil {
			t.Fatalf("pread at %d: n=%d err=%v, want 0 bytes", off, n, err)
		}
	}
}

// Two descriptors of one file: what one writes, the other reads at once,
// even after it read ahead over those bytes (a partial page, which the
// kernel does not cache, so the read reaches us).
func TestReadThroughOneDescriptorSeesAWriteThroughAnother(t *testing.T) {
	m := mount(t)
	path := filepath.Join(m.mnt, "f")
	if err := os.WriteFile(path, make([]byte, 2<<20), 0644); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	for off := int64(0); off < 256<<10; off += int64(len(buf)) {
		r.ReadAt(buf, off) // in sequence: read-ahead goes well past 600 KiB
	}
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	check := func(when string, off int64) {
		t.Helper()
		fresh := bytes.Repeat([]byte(when[:1]), 100)
		if _, err := w.WriteAt(fresh, off); err != nil {
			t.Fatal(err)
		}
		if when == "after close" {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]byte, len(fresh))
		if _, err := r.ReadAt(got, off); err != nil || !bytes.Equal(got, fresh) {
			t.Fatalf("%s: read %q (%v), want %q", when, got[:8], err, fresh[:8])
		}
	}
	check("while open", 600<<10+10)
	check("after close", 700<<10+10)
}

func TestUnlinkedOpenFileStaysReadableAndWritable(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "hello", 0644)
	f, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(filepath.Join(m.mnt, "f")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(m.remote, "f")); !os.IsNotExist(err) {
		t.Fatalf("name still on server: %v", err)
	}
	if _, err := f.WriteAt([]byte(" world"), 5); err != nil {
		t.Fatalf("write after unlink: %v", err)
	}
	buf := make([]byte, 11)
	if n, err := f.ReadAt(buf, 0); n != 11 || string(buf) != "hello world" {
		t.Fatalf("read after unlink: %q %v", buf[:n], err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Size != 11 || st.Nlink != 0 {
		t.Fatalf("fstat after unlink: size %d nlink %d err %v", st.Size, st.Nlink, err)
	}
}

func TestMmapSharedWriteReachesTheServerAfterMsync(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), strings.Repeat("-", 8192), 0644)
	f, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer unix.Munmap(data)
	if data[100] != '-' {
		t.Fatalf("mapped read: %q", data[100])
	}
	copy(data[4096:], "MAPPED")
	if err := unix.Msync(data, unix.MS_SYNC); err != nil {
		t.Fatalf("msync: %v", err)
	}
	got := readFile(t, filepath.Join(m.remote, "f"))
	if got[4096:4102] != "MAPPED" || len(got) != 8192 || got[0] != '-' {
		t.Fatalf("server content after msync: %q", got[4090:4110])
	}
}

func TestAwkwardNamesSurviveTheRoundTrip(t *testing.T) {
	m := mount(t)
	names := []string{"with space", "new\nline", "ütf-8 ✓ 日本", "-leading-dash", "--", strings.Repeat("n", 255), ".hidden", "a'quote\"", "tab\there"}
	for _, name := range names {
		writeFile(t, filepath.Join(m.mnt, name), name, 0644)
	}
	for _, name := range names {
		if got := readFile(t, filepath.Join(m.remote, name)); got != name {
			t.Errorf("server file %q holds %q", name, got)
		}
	}
	entries, err := os.ReadDir(m.mnt)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range entries {
		listed = append(listed, e.Name())
	}
	sort.Strings(listed)
	want := append([]string(nil), names...)
	sort.Strings(want)
	if strings.Join(listed, "/") != strings.Join(want, "/") {
		t.Errorf("listing:\n%q\nwant:\n%q", listed, want)
	}
	err = os.WriteFile(filepath.Join(m.mnt, strings.Repeat("n", 256)), nil, 0644)
	wantErrno(t, "256-byte name", err, syscall.ENAMETOOLONG)
	// "." and ".." mean what they mean locally.
	os.Mkdir(filepath.Join(m.remote, "d"), 0755)
	if got := readFile(t, filepath.Join(m.mnt, "d/../with space")); got != "with space" {
		t.Errorf("d/..: %q", got)
	}
	if fi, err := os.Stat(filepath.Join(m.mnt, "d/.")); err != nil || !fi.IsDir() {
		t.Errorf("d/.: %v %v", fi, err)
	}
}

func TestRenameDirectoryOverAnEmptyDirectoryAndIntoItselfFails(t *testing.T) {
	m := mount(t)
	sh(t, m.remote, "mkdir -p src/sub dst && echo x > src/sub/f")
	if err := syscall.Rename(filepath.Join(m.mnt, "src"), filepath.Join(m.mnt, "dst")); err != nil {
		t.Fatalf("rename over an empty directory: %v", err)
	}
	if got := readFile(t, filepath.Join(m.remote, "dst/sub/f")); got != "x\n" {
		t.Fatalf("moved content: %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.remote, "src")); !os.IsNotExist(err) {
		t.Fatalf("source still on server: %v", err)
	}
	err := syscall.Rename(filepath.Join(m.mnt, "dst"), filepath.Join(m.mnt, "dst/sub/inside"))
	wantErrno(t, "rename into its own subdirectory", err, syscall.EINVAL)
	if _, err := os.Stat(filepath.Join(m.remote, "dst/sub/f")); err != nil {
		t.Fatalf("tree damaged: %v", err)
	}
}

func TestRenameNoReplaceRefusesAnExistingTarget(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "a"), "A", 0644)
	writeFile(t, filepath.Join(m.remote, "b"), "B", 0644)
	err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(m.mnt, "a"), unix.AT_FDCWD, filepath.Join(m.mnt, "b"), unix.RENAME_NOREPLACE)
	wantErrno(t, "RENAME_NOREPLACE over b", err, syscall.EEXIST)
	if readFile(t, filepath.Join(m.remote, "b")) != "B" || readFile(t, filepath.Join(m.remote, "a")) != "A" {
		t.Fatal("files changed")
	}
	if err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(m.mnt, "a"), unix.AT_FDCWD, filepath.Join(m.mnt, "c"), unix.RENAME_NOREPLACE); err != nil {
		t.Fatalf("RENAME_NOREPLACE to a free name: %v", err)
	}
	if readFile(t, filepath.Join(m.remote, "c")) != "A" {
		t.Fatal("c not on server")
	}
}

func TestHardLinkSharesContentAndInodeOnServer(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "a"), "one", 0644)
	sh(t, m.mnt, "ln a b && echo two >> b")
	ra, rb := statT(t, filepath.Join(m.remote, "a")), statT(t, filepath.Join(m.remote, "b"))
	if ra.Ino != rb.Ino || ra.Nlink != 2 {
		t.Fatalf("server: inodes %d %d nlink %d", ra.Ino, rb.Ino, ra.Nlink)
	}
	if got := readFile(t, filepath.Join(m.mnt, "a")); got != "onetwo\n" {
		t.Fatalf("a through the mount: %q", got)
	}
	if statT(t, filepath.Join(m.mnt, "a")).Ino != statT(t, filepath.Join(m.mnt, "b")).Ino {
		t.Error("the two names show different inode numbers")
	}
}

func TestChownAsRootReachesTheServer(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "x", 0644)
	if err := os.Chown(filepath.Join(m.mnt, "f"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if st := statT(t, filepath.Join(m.remote, "f")); st.Uid != 1234 || st.Gid != 5678 {
		t.Fatalf("server owner %d:%d", st.Uid, st.Gid)
	}
	if err := os.Chown(filepath.Join(m.mnt, "f"), -1, 42); err != nil {
		t.Fatal(err)
	}
	if st := statT(t, filepath.Join(m.remote, "f")); st.Uid != 1234 || st.Gid != 42 {
		t.Fatalf("after chgrp: %d:%d", st.Uid, st.Gid)
	}
}

func TestFsyncAndFdatasyncSucceedOnOpenSSH(t *testing.T) {
	m := mount(t)
	f, err := os.Create(filepath.Join(m.mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString("durable")
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		t.Fatalf("fdatasync: %v", err)
	}
	if got := readFile(t, filepath.Join(m.remote, "f")); got != "durable" {
		t.Fatalf("server: %q", got)
	}
}

// st_nlink is the server's, from OpenSSH's long names in the directory's
// listing (SFTP v3 attributes carry none), a directory's included; links
// made and removed through the mount move it on.
func TestLinkCountsAreTheServersFromTheListing(t *testing.T) {
	m := mount(t)
	sh(t, m.remote, "echo f > f && echo a > a && ln a b && mkdir -p d/s1 d/s2 e")
	nlink := func(name string) uint64 { return uint64(statT(t, filepath.Join(m.mnt, name)).Nlink) }
	server := func(name string) uint64 { return uint64(statT(t, filepath.Join(m.remote, name)).Nlink) }
	sh(t, m.mnt, "ls -l > /dev/null")
	for _, name := range []string{"f", "a", "b", "d", "e"} {
		if got, want := nlink(name), server(name); got != want {
			t.Errorf("%s: st_nlink %d through the mount, %d on the server", name, got, want)
		}
	}
	sh(t, m.mnt, "ln a c")
	if server("a") != 3 {
		t.Fatalf("the server's a has %d links after ln", server("a"))
	}
	for _, name := range []string{"a", "c"} {
		if got := nlink(name); got != 3 {
			t.Errorf("after ln a c: %s shows %d links, the server has 3", name, got)
		}
	}
	sh(t, m.mnt, "rm c")
	if got := nlink("a"); got != 2 || server("a") != 2 {
		t.Errorf("after rm c: a shows %d links, the server has %d", got, server("a"))
	}
	sh(t, m.mnt, "mkdir e/s")
	sh(t, m.mnt, "ls -l > /dev/null")
	if got := nlink("e"); got != server("e") || got != 3 {
		t.Errorf("after mkdir e/s and a listing: e shows %d links, the server has %d", got, server("e"))
	}
}
