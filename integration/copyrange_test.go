//go:build linux

package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// copy_file_range within the mount copies on the server (OpenSSH's
// copy-data): the bytes are the source's, at the offsets asked, the count
// is what was copied (short at the source's end), and no data crosses the
// link (no read of the source, no write of the copy, in the -d log).
func TestCopyFileRangeCopiesOnTheServer(t *testing.T) {
	_, log, m := startForeground(t)
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	writeFile(t, filepath.Join(m.remote, "src"), string(src), 0644)
	in, err := os.Open(filepath.Join(m.mnt, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(m.mnt, "dst"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Write([]byte("head")); err != nil { // queued: must land before the copy
		t.Fatal(err)
	}
	offIn, offOut := int64(100), int64(4)
	n, err := unix.CopyFileRange(int(in.Fd()), &offIn, int(out.Fd()), &offOut, 1<<20, 0)
	if err != nil || n != 1<<20 {
		t.Fatalf("copy_file_range of 1 MiB: %d, %v", n, err)
	}
	offIn = int64(len(src)) - 10 // past the end but 10 bytes: a short count
	n, err = unix.CopyFileRange(int(in.Fd()), &offIn, int(out.Fd()), &offOut, 1<<20, 0)
	if err != nil || n != 10 {
		t.Fatalf("copy_file_range across the source's end: %d, %v; want 10", n, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("head"), src[100:100+1<<20]...), src[len(src)-10:]...)
	if got, _ := os.ReadFile(filepath.Join(m.remote, "dst")); !bytes.Equal(got, want) {
		t.Fatalf("the server's copy has %d bytes (equal: %v), want %d", len(got), bytes.Equal(got, want), len(want))
	}
	if got, _ := os.ReadFile(filepath.Join(m.mnt, "dst")); !bytes.Equal(got, want) {
		t.Fatalf("the mount shows %d bytes of the copy, want %d", len(got), len(want))
	}
	dir := regexp.QuoteMeta(m.remote)
	if reads := regexp.MustCompile(`  sftp read `+dir+`/src: `).FindAllString(log.String(), -1); len(reads) > 0 {
		t.Errorf("the source's bytes crossed the link: %d reads", len(reads))
	}
	if writes := regexp.MustCompile(`  sftp write `+dir+`/dst: `).FindAllString(log.String(), -1); len(writes) > 1 {
		t.Errorf("the copy's bytes crossed the link: %d writes (one is the 4-byte head)", len(writes))
	}
	if !regexp.MustCompile(`  sftp copy-data `).MatchString(log.String()) {
		t.Errorf("no copy-data in the -d log")
	}
	// coreutils cp asks for copy_file_range itself.
	sh(t, m.mnt, "cp src viacp")
	if got, _ := os.ReadFile(filepath.Join(m.remote, "viacp")); !bytes.Equal(got, src) {
		t.Fatalf("cp inside the mount: the server's copy has %d bytes, want %d", len(got), len(src))
	}
	if reads := regexp.MustCompile(`  sftp read `+dir+`/src: `).FindAllString(log.String(), -1); len(reads) > 0 {
		t.Errorf("cp inside the mount read the source over the link: %d reads", len(reads))
	}
}

// copy_file_range between two ranges of one file (fsx does it; OpenSSH's
// copy-data refuses it) and across files, with the files' writes still
// queued, gives exactly the bytes a local disk gives, through the mount
// and on the server: with the defaults and with -o writeback.
func TestCopyFileRangeWithinOneFileGivesALocalDisksBytes(t *testing.T) {
	for _, opts := range [][]string{nil, {"-o", "writeback"}} {
		t.Run(strings.Join(append([]string{"opts"}, opts...), " "), func(t *testing.T) {
			m := mount(t, opts...)
			local := t.TempDir()
			for _, dir := range []string{local, m.mnt} {
				copyRangesInAndAcross(t, dir)
			}
			for _, name := range []string{"one", "other"} {
				want, _ := os.ReadFile(filepath.Join(local, name))
				if got, _ := os.ReadFile(filepath.Join(m.mnt, name)); !bytes.Equal(got, want) {
					t.Errorf("%s through the mount: %d bytes (%q...), a local disk holds %d (%q...)", name, len(got), head(got), len(want), head(want))
				}
				var got []byte
				waitFor(10*time.Second, func() bool { // write-back uploads after close
					got, _ = os.ReadFile(filepath.Join(m.remote, name))
					return bytes.Equal(got, want)
				})
				if !bytes.Equal(got, want) {
					t.Errorf("%s on the server: %d bytes (%q...), a local disk holds %d (%q...)", name, len(got), head(got), len(want), head(want))
				}
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 24)] }

// copyRangesInAndAcross runs one sequence of writes and copy_file_range
// calls in dir, failing the test on any error.
func copyRangesInAndAcross(t *testing.T, dir string) {
	t.Helper()
	one, err := os.OpenFile(filepath.Join(dir, "one"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0644)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	other, err := os.OpenFile(filepath.Join(dir, "other"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0644)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	copyRange := func(what string, from, to *os.File, offIn, offOut int64, n int, want int) {
		t.Helper()
		got, err := unix.CopyFileRange(int(from.Fd()), &offIn, int(to.Fd()), &offOut, n, 0)
		if err != nil || got != want {
			t.Fatalf("%s: copy_file_range in %s: %d, %v; want %d", what, dir, got, err, want)
		}
	}
	pattern := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	if _, err := one.WriteAt(pattern, 0); err != nil {        // queued, not yet on the server
		t.Fatal(err)
	}
	copyRange("within one file, forward", one, one, 100, 70000, 5000, 5000)
	copyRange("within one file, back over written bytes", one, one, 70000, 10, 3000, 3000)
	if _, err := one.WriteAt([]byte("QUEUED"), 65000); err != nil {
		t.Fatal(err)
	}
	copyRange("within one file, from a queued write", one, one, 64990, 80000, 40, 40)
	if _, err := other.WriteAt([]byte("other's head"), 0); err != nil {
		t.Fatal(err)
	}
	copyRange("across files", one, other, 64990, 12, 1000, 1000)
	copyRange("across files, short at the source's end", other, one, 500, 90000, 4096, 512)
	if err := one.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := one.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
}

// A page of a shared mapping written back through a file opened O_APPEND
// lands in place, not at the end: FUSE writes dirty pages through any
// writable handle of the file, and the server (or the write-back
// journal) appends whatever comes through an append handle. With the
// defaults and with -o writeback (the file made through the mount, so
// held in the journal).
func TestAnMmapWriteThroughAnAppendHandleLandsInPlace(t *testing.T) {
	for _, opts := range [][]string{nil, {"-o", "writeback"}} {
		t.Run(strings.Join(append([]string{"opts"}, opts...), " "), func(t *testing.T) {
			m := mount(t, opts...)
			orig := bytes.Repeat([]byte("a"), 8192)
			writeFile(t, filepath.Join(m.mnt, "f"), string(orig), 0644)
			f, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_RDWR|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			mem, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
			if err != nil {
				t.Fatal(err)
			}
			mem[100] = 'X'
			if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
				t.Fatal(err)
			}
			unix.Munmap(mem)
			if _, err := f.Write([]byte("tail")); err != nil { // a write(2) still appends
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte{}, orig...), "tail"...)
			want[100] = 'X'
			var got []byte
			waitFor(10*time.Second, func() bool { // write-back uploads after close
				got, _ = os.ReadFile(filepath.Join(m.remote, "f"))
				return bytes.Equal(got, want)
			})
			if !bytes.Equal(got, want) {
				t.Fatalf("the server's file: %d bytes, byte 100 %q, ends %q; want %d bytes, X at 100, ending in tail", len(got), got[min(100, len(got)-1)], got[max(0, len(got)-8):], len(want))
			}
		})
	}
}
