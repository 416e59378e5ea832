//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallTmpfs mounts a tmpfs of size inside the served directory: a second
// server filesystem, and one that fills up quickly.
func smallTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.Mkdir(dir, 0755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "sftpmount-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
}

func TestWriteToAFullServerDiskIsENOSPC(t *testing.T) {
	m := mount(t)
	smallTmpfs(t, filepath.Join(m.remote, "small"), "256k")
	f, err := os.Create(filepath.Join(m.mnt, "small/big"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	var werr error
	for i := 0; i < 16 && werr == nil; i++ {
		_, werr = f.Write(chunk)
	}
	cerr := f.Close()
	// Writes are queued: the error comes at a later write or at close,
	// never not at all.
	if werr == nil {
		werr = cerr
	}
	wantErrno(t, "writing past a 256 KiB disk", werr, syscall.ENOSPC)
	out, _ := shErr(m.mnt, "cp /dev/zero small/other")
	if !strings.Contains(out, "No space left on device") {
		t.Errorf("cp to a full disk says: %q", out)
	}
}

func TestRenameAcrossServerFilesystemsIsEXDEVAndMvStillMoves(t *testing.T) {
	m := mount(t)
	smallTmpfs(t, filepath.Join(m.remote, "other"), "1m")
	writeFile(t, filepath.Join(m.remote, "f"), "payload", 0644)
	err := syscall.Rename(filepath.Join(m.mnt, "f"), filepath.Join(m.mnt, "other/f"))
	wantErrno(t, "rename across filesystems", err, syscall.EXDEV)
	sh(t, m.mnt, "mv f other/f")
	if got := readFile(t, filepath.Join(m.remote, "other/f")); got != "payload" {
		t.Fatalf("moved file on server: %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.remote, "f")); !os.IsNotExist(err) {
		t.Fatalf("source left behind: %v", err)
	}
}
