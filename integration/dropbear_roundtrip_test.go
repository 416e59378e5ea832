//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The main round trips through Dropbear with OpenSSH's sftp-server: a
// mount works there as against sshd, and since the SFTP server is the
// same, nothing is missing: `sftpmount status` names nothing the server
// lacks. Each step checks the server's directory.
func TestRoundTripsThroughDropbear(t *testing.T) {
	m := mountDropbear(t)
	onServer := func(name string) string { return filepath.Join(m.remote, name) }

	t.Run("cat and cp both ways", func(t *testing.T) {
		writeFile(t, onServer("hello.txt"), "hello from dropbear\n", 0o644)
		chownTo(t, onServer("hello.txt"), testUser)
		if got := sh(t, m.mnt, "cat hello.txt"); got != "hello from dropbear\n" {
			t.Fatalf("cat: %q", got)
		}
		src := filepath.Join(t.TempDir(), "src.bin")
		randomFile(t, src, 3<<20+17)
		sh(t, m.mnt, "cp "+src+" copied.bin")
		if sha(t, onServer("copied.bin")) != sha(t, src) {
			t.Fatal("bytes on the server differ from the source")
		}
		out := t.TempDir()
		sh(t, m.mnt, "cp copied.bin "+out)
		if sha(t, filepath.Join(out, "copied.bin")) != sha(t, src) {
			t.Fatal("bytes copied out differ")
		}
	})
	t.Run("append, truncate, write at an offset", func(t *testing.T) {
		sh(t, m.mnt, "printf 0123456789 > f && echo more >> f && truncate -s 12 f && printf XY | dd of=f bs=1 seek=3 conv=notrunc status=none")
		if got := readFile(t, onServer("f")); got != "012XY56789mo" {
			t.Fatalf("server has %q", got)
		}
	})
	t.Run("directories", func(t *testing.T) {
		sh(t, m.mnt, "mkdir -p a/b/c && touch a/b/c/x && mkdir gone && rmdir gone && mkdir tree && touch tree/1 tree/2 && rm -r tree")
		if fi, err := os.Stat(onServer("a/b/c/x")); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("a/b/c/x on the server: %v", err)
		}
		for _, gone := range []string{"gone", "tree"} {
			if _, err := os.Lstat(onServer(gone)); !os.IsNotExist(err) {
				t.Errorf("%s still on the server: %v", gone, err)
			}
		}
		if got := sh(t, m.mnt, "ls a/b/c"); got != "x\n" {
			t.Errorf("ls: %q", got)
		}
	})
	t.Run("rename replaces an existing file", func(t *testing.T) {
		sh(t, m.mnt, "echo new > n && echo old > o && mv n o")
		if got := readFile(t, onServer("o")); got != "new\n" {
			t.Fatalf("o on the server: %q", got)
		}
		if _, err := os.Lstat(onServer("n")); !os.IsNotExist(err) {
			t.Fatalf("n left on the server: %v", err)
		}
	})
	t.Run("symlink and hard link", func(t *testing.T) {
		sh(t, m.mnt, "echo data > target && ln -s target sym && ln target hard")
		if got, err := os.Readlink(onServer("sym")); err != nil || got != "target" {
			t.Fatalf("symlink on the server: %q %v", got, err)
		}
		if got := sh(t, m.mnt, "readlink sym; stat -c %h hard"); got != "target\n2\n" {
			t.Fatalf("readlink and link count: %q", got)
		}
	})
	t.Run("chmod", func(t *testing.T) {
		sh(t, m.mnt, "touch mode && chmod 640 mode")
		if fi, err := os.Stat(onServer("mode")); err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("mode on the server: %v %v", fi, err)
		}
	})
	t.Run("df and fsync", func(t *testing.T) {
		sh(t, m.mnt, "df -P . >/dev/null && echo x > s && python3 -c \"import os; fd=os.open('s', os.O_RDWR); os.fsync(fd)\"")
	})
	t.Run("status names nothing lacking", func(t *testing.T) {
		r := runBinary(t, nil, "status", m.mnt)
		if r.code != 0 || strings.Contains(r.stdout, "lacks") {
			t.Fatalf("status: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// fsx's random reads, writes, truncates and copies through Dropbear.
func TestFsxThroughDropbear(t *testing.T) {
	for _, seed := range fsxSeeds(11) {
		runFsx(t, fsxOn(mountDropbear(t), seed, fsxOps(2000)))
	}
}

// go-fuse's POSIX checks through Dropbear: the same as through sshd.
func TestGoFusePosixSuiteThroughDropbear(t *testing.T) {
	runPosixSuite(t, mountDropbear(t, "-o", "no_contain_symlinks"), posixtestExpectedToFail)
}
