//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestChmodReachesTheServer(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "x", 0644)
	os.Mkdir(filepath.Join(m.remote, "d"), 0755)
	sh(t, m.mnt, "chmod 0751 f && chmod u-w,g+s d")
	if fi, _ := os.Stat(filepath.Join(m.remote, "f")); fi.Mode().Perm() != 0751 {
		t.Errorf("f on server: %v", fi.Mode())
	}
	fi, _ := os.Stat(filepath.Join(m.remote, "d"))
	if fi.Mode().Perm() != 0555 || fi.Mode()&os.ModeSetgid == 0 {
		t.Errorf("d on server: %v, want dr-xr-xr-x with setgid", fi.Mode())
	}
	if got := strings.TrimSpace(sh(t, m.mnt, "stat -c %a f")); got != "751" {
		t.Errorf("mount shows mode %s", got)
	}
}

func TestTouchSetsTheServersMtime(t *testing.T) {
	m := mount(t)
	before := time.Now().Add(-2 * time.Second)
	sh(t, m.mnt, "touch new && : > old")
	sh(t, m.remote, "touch -d '2000-01-01 00:00:00 UTC' old")
	sh(t, m.mnt, "touch old")
	for _, name := range []string{"new", "old"} {
		fi, err := os.Stat(filepath.Join(m.remote, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Before(before) || fi.ModTime().After(time.Now().Add(2*time.Second)) {
			t.Errorf("%s mtime on server %v, want about now", name, fi.ModTime())
		}
	}
}

func TestTouchDSetsAnExactMtimeOnTheServer(t *testing.T) {
	m := mount(t)
	sh(t, m.mnt, "touch f && touch -d '2019-06-07 08:09:10 UTC' f && mkdir d && touch -d '2001-01-01 00:00:00 UTC' d")
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(m.remote, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mtim.Sec != 1559894950 {
		t.Errorf("f mtime on server: %d, want 1559894950", st.Mtim.Sec)
	}
	if fi, _ := os.Stat(filepath.Join(m.remote, "d")); fi.ModTime().Unix() != 978307200 {
		t.Errorf("d mtime on server: %d", fi.ModTime().Unix())
	}
	// touch -m changes mtime only: the server's atime must survive.
	sh(t, m.remote, "touch -a -d '2010-01-01 00:00:00 UTC' f")
	sh(t, m.mnt, "touch -m -d '2012-01-01 00:00:00 UTC' f")
	syscall.Stat(filepath.Join(m.remote, "f"), &st)
	if st.Atim.Sec != 1262304000 || st.Mtim.Sec != 1325376000 {
		t.Errorf("after touch -m: atime %d mtime %d, want 1262304000 1325376000", st.Atim.Sec, st.Mtim.Sec)
	}
}

func TestDfShowsTheServersFilesystem(t *testing.T) {
	m := mount(t)
	var want syscall.Statfs_t
	if err := syscall.Statfs(m.remote, &want); err != nil {
		t.Fatal(err)
	}
	var got syscall.Statfs_t
	if err := syscall.Statfs(m.mnt, &got); err != nil {
		t.Fatalf("statfs on the mount: %v", err)
	}
	if got.Blocks != want.Blocks || got.Bsize != want.Bsize {
		t.Errorf("statfs: %d blocks of %d, server's filesystem has %d of %d", got.Blocks, got.Bsize, want.Blocks, want.Bsize)
	}
	out := sh(t, m.mnt, "df -P .")
	f := strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])
	total, _ := strconv.ParseUint(f[1], 10, 64)
	if total != want.Blocks*uint64(want.Bsize)/1024 {
		t.Errorf("df total %d KiB, server %d KiB\n%s", total, want.Blocks*uint64(want.Bsize)/1024, out)
	}
	if !strings.Contains(f[0], "@127.0.0.1:") {
		t.Errorf("df source %q does not name the remote", f[0])
	}
}

func TestReadOnlyMountRefusesEveryWriteWithEROFS(t *testing.T) {
	m := mount(t, "-o", "ro")
	writeFile(t, filepath.Join(m.remote, "f"), "keep", 0644)
	_, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_WRONLY|os.O_TRUNC, 0)
	wantErrno(t, "open for writing", err, syscall.EROFS)
	wantErrno(t, "mkdir", syscall.Mkdir(filepath.Join(m.mnt, "d"), 0755), syscall.EROFS)
	wantErrno(t, "unlink", syscall.Unlink(filepath.Join(m.mnt, "f")), syscall.EROFS)
	wantErrno(t, "chmod", syscall.Chmod(filepath.Join(m.mnt, "f"), 0600), syscall.EROFS)
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "keep" {
		t.Fatalf("read through a read-only mount: %q", got)
	}
	if names := listRemote(t, m.remote); len(names) != 1 || readFile(t, filepath.Join(m.remote, "f")) != "keep" {
		t.Fatalf("server changed: %v", names)
	}
}
