//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatReadsTheServersBytes(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "hello.txt"), "hello from the server\n", 0644)
	if got := sh(t, m.mnt, "cat hello.txt"); got != "hello from the server\n" {
		t.Fatalf("cat through the mount: %q", got)
	}
}

func TestCpIntoMountLandsOnServer(t *testing.T) {
	m := mount(t)
	src := filepath.Join(t.TempDir(), "src.bin")
	randomFile(t, src, 3*1024*1024+17)
	sh(t, m.mnt, "cp "+src+" copied.bin && : > empty && cp empty empty-copy")
	if sha(t, filepath.Join(m.remote, "copied.bin")) != sha(t, src) {
		t.Fatal("bytes on the server differ from the source")
	}
	for _, name := range []string{"empty", "empty-copy"} {
		fi, err := os.Stat(filepath.Join(m.remote, name))
		if err != nil || fi.Size() != 0 || !fi.Mode().IsRegular() {
			t.Fatalf("%s on the server: %v %v", name, fi, err)
		}
	}
}

func TestCpOutOfMountGivesTheServersBytes(t *testing.T) {
	m := mount(t)
	randomFile(t, filepath.Join(m.remote, "big.bin"), 5*1024*1024+3)
	writeFile(t, filepath.Join(m.remote, "empty"), "", 0644)
	dst := t.TempDir()
	sh(t, m.mnt, "cp big.bin empty "+dst)
	if sha(t, filepath.Join(dst, "big.bin")) != sha(t, filepath.Join(m.remote, "big.bin")) {
		t.Fatal("copied-out bytes differ from the server's")
	}
	if fi, err := os.Stat(filepath.Join(dst, "empty")); err != nil || fi.Size() != 0 {
		t.Fatalf("empty file copied out: %v %v", fi, err)
	}
}

func Test64MiBFileRoundTripsByteForByte(t *testing.T) {
	m := mount(t)
	local := t.TempDir()
	src := filepath.Join(local, "in.bin")
	randomFile(t, src, 64<<20)
	want := sha(t, src)

	sh(t, m.mnt, "cp "+src+" up.bin")
	if got := sha(t, filepath.Join(m.remote, "up.bin")); got != want {
		t.Fatalf("upload: server has %s, want %s", got, want)
	}
	if err := os.Rename(src, filepath.Join(m.remote, "down.bin")); err != nil {
		t.Fatal(err)
	}
	sh(t, m.mnt, "cp down.bin "+filepath.Join(local, "back.bin"))
	if got := sha(t, filepath.Join(local, "back.bin")); got != want {
		t.Fatalf("download: got %s, want %s", got, want)
	}
}

func TestAppendWithEchoAddsToTheServersFile(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "log"), "first\n", 0644)
	sh(t, m.mnt, "echo second >> log && echo third >> log")
	if got := readFile(t, filepath.Join(m.remote, "log")); got != "first\nsecond\nthird\n" {
		t.Fatalf("server file after appends: %q", got)
	}
}

func TestTruncateResizesTheServersFile(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "0123456789", 0644)
	sh(t, m.mnt, "truncate -s 4 f")
	if got := readFile(t, filepath.Join(m.remote, "f")); got != "0123" {
		t.Fatalf("after shrink: %q", got)
	}
	sh(t, m.mnt, "truncate -s 8 f")
	if got := readFile(t, filepath.Join(m.remote, "f")); got != "0123\x00\x00\x00\x00" {
		t.Fatalf("after grow: %q", got)
	}
}

func TestDdAtAnOffsetRewritesOnlyThoseBytesOnServer(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), strings.Repeat("a", 100), 0644)
	sh(t, m.mnt, "printf XYZ | dd of=f bs=1 seek=50 conv=notrunc status=none")
	sh(t, m.mnt, "printf END | dd of=f bs=1 seek=120 conv=notrunc status=none")
	want := strings.Repeat("a", 50) + "XYZ" + strings.Repeat("a", 47) + strings.Repeat("\x00", 20) + "END"
	if got := readFile(t, filepath.Join(m.remote, "f")); got != want {
		t.Fatalf("server file:\n got %q\nwant %q", got, want)
	}
}

func TestEditorStyleSaveReplacesTheFileOnServer(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "doc.txt"), "old version\n", 0644)
	// What vim and most editors do: write a temporary file, fsync it, and
	// rename it over the original.
	f, err := os.Create(filepath.Join(m.mnt, ".doc.txt.swp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new version\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(m.mnt, ".doc.txt.swp"), filepath.Join(m.mnt, "doc.txt")); err != nil {
		t.Fatalf("rename over the original: %v", err)
	}
	if got := readFile(t, filepath.Join(m.remote, "doc.txt")); got != "new version\n" {
		t.Fatalf("server has %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.remote, ".doc.txt.swp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left on server: %v", err)
	}
	if got := readFile(t, filepath.Join(m.mnt, "doc.txt")); got != "new version\n" {
		t.Fatalf("mount reads %q after save", got)
	}
}
