package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

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
