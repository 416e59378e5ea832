package fs

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/remotetest"
)

// A server that names no extension at all (an SFTP v3 server as the
// protocol's draft has it; managed services come close): every call a
// user makes either works by a fallback or fails with the errno a local
// filesystem without that feature gives, never EIO, and each missing
// piece is one line of Lacks (the -d log and `sftpmount status`).
func TestAServerWithoutExtensionsFallsBackForEachOne(t *testing.T) {
	mnt, served, rc := mountPkgSFTP(t, true)
	lacks := rc.Lacks()
	for _, x := range []string{"posix-rename@openssh.com", "statvfs@openssh.com", "hardlink@openssh.com", "fsync@openssh.com", "lsetstat@openssh.com", "limits@openssh.com", "copy-data", "fstatvfs@openssh.com"} {
		if n := len(slices.DeleteFunc(slices.Clone(lacks), func(l string) bool { return !strings.HasPrefix(l, x+": ") })); n != 1 {
			t.Errorf("%s named %d times in %q", x, n, lacks)
		}
	}
	p := func(name string) string { return filepath.Join(mnt, name) }
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("write", os.WriteFile(p("a"), []byte("new\n"), 0o644))
	must("write", os.WriteFile(p("b"), []byte("old\n"), 0o644))
	// No posix-rename: the file in the way is removed first.
	must("rename over a file", os.Rename(p("a"), p("b")))
	if got, _ := os.ReadFile(filepath.Join(served, "b")); string(got) != "new\n" {
		t.Errorf("b on the server after the rename: %q", got)
	}
	// A directory over a file, or a file over a directory: refused as
	// POSIX says, nothing removed, never EIO.
	must("mkdir", os.Mkdir(p("d"), 0o755))
	if err := os.Rename(p("d"), p("b")); err == nil || errors.Is(err, syscall.EIO) {
		t.Errorf("rename of a directory over a file: %v", err)
	}
	if err := os.Rename(p("b"), p("d")); err == nil || errors.Is(err, syscall.EIO) {
		t.Errorf("rename of a file over a directory: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(served, "b")); string(got) != "new\n" {
		t.Errorf("b on the server after refused renames: %q", got)
	}
	// No hardlink@openssh.com: EPERM, as a filesystem without links says.
	if err := os.Link(p("b"), p("c")); !errors.Is(err, syscall.EPERM) {
		t.Errorf("link: %v, want EPERM", err)
	}
	// No statvfs@openssh.com: sshfs's stand-in.
	var st syscall.Statfs_t
	must("statfs", syscall.Statfs(mnt, &st))
	if st.Blocks == 0 || st.Bavail == 0 || st.Namelen != 255 {
		t.Errorf("statfs: %+v", st)
	}
	// No fsync@openssh.com: a round trip after the writes.
	fd, err := os.OpenFile(p("b"), os.O_WRONLY|os.O_APPEND, 0)
	must("open", err)
	_, err = fd.WriteString("more\n")
	must("append", err)
	must("fsync", fd.Sync())
	must("close", fd.Close())
	if got, _ := os.ReadFile(filepath.Join(served, "b")); string(got) != "new\nmore\n" {
		t.Errorf("b on the server after fsync: %q", got)
	}
	must("chmod", os.Chmod(p("b"), 0o600))
	must("truncate", os.Truncate(p("b"), 2))
	must("symlink", os.Symlink("b", p("l")))
	if fi, err := os.Stat(filepath.Join(served, "b")); err != nil || fi.Size() != 2 || fi.Mode().Perm() != 0o600 {
		t.Errorf("b on the server: %v, %v", fi, err)
	}
}

// pkg/sftp's own server names hardlink, posix-rename and statvfs, and
// lacks fsync: fsync still returns once the server has the writes.
func TestPkgSFTPsServerLacksFsyncOnly(t *testing.T) {
	mnt, served, rc := mountPkgSFTP(t, false)
	lacks := strings.Join(rc.Lacks(), "\n")
	if !strings.Contains(lacks, "fsync@openssh.com: ") || strings.Contains(lacks, "posix-rename") || strings.Contains(lacks, "hardlink") {
		t.Errorf("lacks %q", lacks)
	}
	fd, err := os.Create(filepath.Join(mnt, "f"))
	if err != nil {
		t.Fatal(err)
	}
	fd.WriteString("synced\n")
	if err := fd.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(served, "f")); string(got) != "synced\n" {
		t.Errorf("f on the server after fsync: %q", got)
	}
	fd.Close()
	if err := os.Link(filepath.Join(mnt, "f"), filepath.Join(mnt, "g")); err != nil {
		t.Errorf("link: %v", err)
	}
}

// mountPkgSFTP mounts a fresh directory served in this process by
// pkg/sftp's server; bare strips every extension from its VERSION reply.
func mountPkgSFTP(t *testing.T, bare bool) (mnt, served string, rc *remote.Client) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs /dev/fuse and root, which CI has")
		}
		t.Skip("needs /dev/fuse and root")
	}
	served, mnt = t.TempDir(), t.TempDir()
	srv := remotetest.Serve(served)
	if bare {
		srv = remotetest.ServeBare(served)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := remote.ConnectStream(ctx, remote.Config{Dir: served, Timeout: 10 * time.Second}, srv.Open)
	if err != nil {
		t.Fatal(err)
	}
	root := NewRoot(rc, Options{Caches: CachesFor(time.Second), Debug: log.New(io.Discard, "", 0), Timeout: 10 * time.Second})
	f := root.FS()
	server, err := fusefs.Mount(mnt, root, &fusefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(func() {
		server.Unmount()
		f.Close(context.Background())
		rc.Close()
		srv.Close()
	})
	return mnt, served, rc
}
