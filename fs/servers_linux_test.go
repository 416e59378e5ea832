package fs

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/remotetest"
)

// What a user sees through the mount of a server other than OpenSSH's
// (remote/lacks.go): each missing piece works by its fallback or fails
// with the errno a local filesystem without it gives, never EIO. Each
// test asserts on the served directory too.

// A server that names no extension (pkg/sftp's, its VERSION reply
// stripped): ln fails with EPERM, df shows the stand-in, fsync returns.
func TestWithoutExtensionsLinkIsEPERMAndDfAndFsyncWork(t *testing.T) {
	served := t.TempDir()
	mnt := mountServer(t, remotetest.ServeWith(served, remotetest.Quirks{Without: []string{"*"}}), served)
	p := func(name string) string { return filepath.Join(mnt, name) }
	if err := os.WriteFile(p("b"), []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(p("b"), p("c")); !errors.Is(err, syscall.EPERM) {
		t.Errorf("ln: %v, want EPERM", err)
	}
	if _, err := os.Lstat(filepath.Join(served, "c")); !os.IsNotExist(err) {
		t.Errorf("c on the server: %v", err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil || st.Blocks == 0 || st.Bavail == 0 || st.Namelen != 255 {
		t.Errorf("statfs: %+v, %v", st, err)
	}
	fd, err := os.OpenFile(p("b"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd.WriteString("more\n")
	if err := fd.Sync(); err != nil {
		t.Errorf("fsync: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(served, "b")); string(got) != "data\nmore\n" {
		t.Errorf("b on the server after fsync: %q", got)
	}
	fd.Close()
}

// OpenSSH's sftp-server without posix-rename: mv over a file replaces
// it; a directory over a file is ENOTDIR, and the file stays.
func TestWithoutPosixRenameMvReplacesAndRefusesAsRename2(t *testing.T) {
	if _, err := os.Stat(remotetest.OpenSSHServer); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	served := t.TempDir()
	mnt := mountServer(t, remotetest.ServeOpenSSH(served, remotetest.Quirks{Without: []string{"posix-rename@openssh.com"}}), served)
	p := func(name string) string { return filepath.Join(mnt, name) }
	os.WriteFile(p("a"), []byte("new\n"), 0o644)
	os.WriteFile(p("b"), []byte("old\n"), 0o644)
	if err := os.Rename(p("a"), p("b")); err != nil {
		t.Errorf("mv a b: %v", err)
	}
	os.Mkdir(p("d"), 0o755)
	if err := os.Rename(p("d"), p("b")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("mv d b: %v, want ENOTDIR", err)
	}
	if got, _ := os.ReadFile(filepath.Join(served, "b")); string(got) != "new\n" {
		t.Errorf("b on the server: %q", got)
	}
}

// A server that refuses SETSTAT as not supported: chmod and touch -d
// fail with ENOTSUP; one that fails it (SSH_FX_FAILURE) with EPERM, as a
// local filesystem that refuses the change. The file is untouched.
func TestARefusedSetstatIsENOTSUPAndAFailedOneEPERM(t *testing.T) {
	for _, c := range []struct {
		status uint32
		want   syscall.Errno
	}{{remote.StatusOpUnsupported, syscall.ENOTSUP}, {remote.StatusFailure, syscall.EPERM}} {
		served := t.TempDir()
		os.WriteFile(filepath.Join(served, "f"), []byte("x"), 0o644)
		mnt := mountServer(t, remotetest.ServeWith(served, remotetest.Quirks{SetstatStatus: c.status}), served)
		if err := os.Chmod(filepath.Join(mnt, "f"), 0o600); !errors.Is(err, c.want) {
			t.Errorf("status %d: chmod: %v, want %v", c.status, err, c.want)
		}
		then := time.Unix(1e9, 0)
		if err := os.Chtimes(filepath.Join(mnt, "f"), then, then); !errors.Is(err, c.want) {
			t.Errorf("status %d: utimes: %v, want %v", c.status, err, c.want)
		}
		if fi, _ := os.Stat(filepath.Join(served, "f")); fi.Mode().Perm() != 0o644 || fi.ModTime().Equal(then) {
			t.Errorf("f on the server: %v %v", fi.Mode(), fi.ModTime())
		}
	}
}

// A server that takes writes only at a file's end: a write elsewhere
// fails with ENOTSUP (at the write, fsync or close: writes are sent
// behind), never EIO; appending works.
func TestAWriteNotAtTheEndRefusedIsENOTSUP(t *testing.T) {
	served := t.TempDir()
	mnt := mountServer(t, remotetest.ServeWith(served, remotetest.Quirks{AppendOnly: true}), served)
	f := filepath.Join(mnt, "f")
	if err := os.WriteFile(f, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := os.OpenFile(f, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fd.WriteAt([]byte("XY"), 3)
	if err == nil {
		err = fd.Sync()
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if !errors.Is(err, syscall.ENOTSUP) {
		t.Errorf("a write at 3: %v, want ENOTSUP", err)
	}
	fd, err = os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fd.WriteString("ab"); err != nil {
		t.Error(err)
	}
	if err := fd.Close(); err != nil {
		t.Errorf("append: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(served, "f")); string(got) != "0123456789ab" {
		t.Errorf("f on the server: %q", got)
	}
}

// mountServer mounts served, served by srv in this process.
func mountServer(t *testing.T, srv *remotetest.Server, served string) string {
	return mountServerLog(t, srv, served, log.New(io.Discard, "", 0))
}

func mountServerDebug(t *testing.T, srv *remotetest.Server, served string) string {
	return mountServerLog(t, srv, served, log.New(os.Stderr, "DBG ", 0))
}

func mountServerLog(t *testing.T, srv *remotetest.Server, served string, debug *log.Logger) string {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs /dev/fuse and root, which CI has")
		}
		t.Skip("needs /dev/fuse and root")
	}
	mnt := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := remote.ConnectStream(ctx, remote.Config{Dir: served, Timeout: 10 * time.Second, Debug: debug}, srv.Open)
	if err != nil {
		t.Fatal(err)
	}
	root := NewRoot(rc, Options{Caches: CachesFor(time.Second), Debug: debug, Timeout: 10 * time.Second})
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
	return mnt
}

// cp -p and tar -x onto a server that refuses SETSTAT (as not supported,
// not permitted, or with a plain failure) finish as on a local
// filesystem that refuses the changes: every byte and directory lands,
// mkdir succeeds with the server's mode, and the complaints name
// ENOTSUP or EPERM, never an I/O error. (A new file's held mode and times
// are refused at its close: cp says "failed to close". The files here
// have the server's own mode: one that should be more private than the
// server made it gets none of its data, held.go, docs/servers.md.)
func TestCpPAndTarFinishOnAServerRefusingSetstat(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("hello"), 0o644)
	os.Mkdir(filepath.Join(src, "d"), 0o700)
	os.WriteFile(filepath.Join(src, "d/g"), []byte("world"), 0o644)
	if out, err := exec.Command("tar", "-C", src, "-cf", filepath.Join(src, "t.tar"), "f", "d").CombinedOutput(); err != nil {
		t.Fatalf("tar -c: %v %s", err, out)
	}
	for _, status := range []uint32{remote.StatusOpUnsupported, remote.StatusPermissionDenied, remote.StatusFailure} {
		served := t.TempDir()
		mnt := mountServer(t, remotetest.ServeWith(served, remotetest.Quirks{SetstatStatus: status}), served)
		cp, _ := exec.Command("cp", "-p", filepath.Join(src, "f"), filepath.Join(mnt, "f")).CombinedOutput()
		os.Mkdir(filepath.Join(mnt, "x"), 0o755)
		tar, _ := exec.Command("tar", "-C", filepath.Join(mnt, "x"), "-xf", filepath.Join(src, "t.tar")).CombinedOutput()
		for name, want := range map[string]string{"f": "hello", "x/f": "hello", "x/d/g": "world"} {
			if got, err := os.ReadFile(filepath.Join(served, name)); err != nil || string(got) != want {
				t.Errorf("status %d: %s on the server: %q, %v", status, name, got, err)
			}
		}
		if said := string(cp) + string(tar); strings.Contains(said, "Input/output error") || strings.Contains(said, "Cannot mkdir") {
			t.Errorf("status %d: cp -p and tar -x said:\n%s", status, said)
		}
	}
}
