package remote_test

import (
	"bytes"
	"context"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/remotetest"
)

// connect mounts nothing: a client of srv serving served, whose -d log
// is returned too.
func connect(t *testing.T, srv *remotetest.Server, served string) (*remote.Client, *bytes.Buffer) {
	t.Helper()
	var debug bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := remote.ConnectStream(ctx, remote.Config{Dir: served, Timeout: 10 * time.Second, Reconnect: true,
		Debug: log.New(&debug, "", 0)}, srv.Open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c, &debug
}

func needOpenSSH(t *testing.T) {
	if _, err := os.Stat(remotetest.OpenSSHServer); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: integration/install-deps.sh installs it", remotetest.OpenSSHServer)
		}
		t.Skipf("SKIPPED: %s is missing", remotetest.OpenSSHServer)
	}
}

func code(err error) uint32 {
	c, _ := remote.StatusCode(err)
	return c
}

func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func has(t *testing.T, path, want string) {
	t.Helper()
	if got, err := os.ReadFile(path); err != nil || string(got) != want {
		t.Errorf("%s on the server: %q, %v; want %q", filepath.Base(path), got, err, want)
	}
}

// OpenSSH's sftp-server without posix-rename@openssh.com: its plain
// rename refuses an existing name. A rename over one still works, as
// rename(2) does, and never loses the name in the way: a source that
// vanished, a directory over a file, a file over a directory or a
// directory over one not empty leave it where it was; two names of one
// file are both left, as POSIX says.
func TestRenameOverANameWithoutPosixRenameLosesNothing(t *testing.T) {
	needOpenSSH(t)
	served := t.TempDir()
	c, debug := connect(t, remotetest.ServeOpenSSH(served, remotetest.Quirks{Without: []string{"posix-rename@openssh.com"}}), served)
	ctx := context.Background()
	at := func(name string) string { return filepath.Join(served, name) }

	put(t, at("a"), "new")
	put(t, at("b"), "old")
	if err := c.Rename(ctx, "a", "b"); err != nil {
		t.Errorf("file over a file: %v", err)
	}
	has(t, at("b"), "new")
	if _, err := os.Lstat(at("a")); !os.IsNotExist(err) {
		t.Errorf("a still on the server: %v", err)
	}

	if err := c.Rename(ctx, "vanished", "b"); err == nil {
		t.Error("rename of a source that is gone: no error")
	}
	has(t, at("b"), "new")

	os.Mkdir(at("d"), 0o755)
	put(t, at("d/in"), "kept")
	if err := c.Rename(ctx, "d", "b"); code(err) != remote.StatusNotADirectory {
		t.Errorf("directory over a file: %v, want ENOTDIR's status", err)
	}
	if err := c.Rename(ctx, "b", "d"); code(err) != remote.StatusFileIsADirectory {
		t.Errorf("file over a directory: %v, want EISDIR's status", err)
	}
	has(t, at("b"), "new")
	has(t, at("d/in"), "kept")

	os.Mkdir(at("e"), 0o755)
	if err := c.Rename(ctx, "e", "d"); code(err) != remote.StatusDirNotEmpty {
		t.Errorf("directory over one not empty: %v, want ENOTEMPTY's status", err)
	}
	if err := c.Rename(ctx, "d", "e"); err != nil {
		t.Errorf("directory over an empty one: %v", err)
	}
	has(t, at("e/in"), "kept")

	if err := os.Link(at("b"), at("hard")); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, "hard", "b"); err != nil {
		t.Errorf("a name over another of the same file: %v", err)
	}
	has(t, at("hard"), "new")
	has(t, at("b"), "new")

	left, _ := filepath.Glob(at(".sftpmount-aside-*"))
	if len(left) > 0 {
		t.Errorf("names left aside on the server: %v", left)
	}
	if n := strings.Count(debug.String(), "server lacks posix-rename@openssh.com: "); n != 1 {
		t.Errorf("-d log names posix-rename %d times:\n%s", n, debug)
	}
}

// A server that names no extension (pkg/sftp's with its VERSION reply
// stripped): each missing one is one line of Lacks and of the -d log,
// said at the start; statfs answers the stand-in, fsync returns once the
// writes are answered, a hard link is unsupported (fs: EPERM), and no
// request fails for want of an extension.
func TestAServerWithoutExtensionsSaysEachOnceAndFallsBack(t *testing.T) {
	served := t.TempDir()
	c, debug := connect(t, remotetest.ServeWith(served, remotetest.Quirks{Without: []string{"*"}}), served)
	ctx := context.Background()
	names := []string{"posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com", "hardlink@openssh.com",
		"fsync@openssh.com", "lsetstat@openssh.com", "limits@openssh.com", "copy-data"}
	lacks := strings.Join(c.Lacks(), "\n")
	for _, x := range names {
		if n := strings.Count("\n"+lacks, "\n"+x+": "); n != 1 {
			t.Errorf("Lacks names %s %d times:\n%s", x, n, lacks)
		}
	}
	if st, err := c.StatFS(ctx, ""); err != nil || st != remote.StandInStatFS {
		t.Errorf("statfs: %+v, %v; want the stand-in", st, err)
	}
	f, err := c.OpenFile(ctx, "f", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(ctx, []byte("synced"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(ctx); err != nil {
		t.Errorf("fsync: %v", err)
	}
	has(t, filepath.Join(served, "f"), "synced")
	f.Close(ctx)
	if err := c.Link(ctx, "f", "g"); code(err) != remote.StatusOpUnsupported {
		t.Errorf("link: %v, want unsupported", err)
	}
	if err := c.LChtimes(ctx, "f", remote.Attr{Atime: time.Unix(1e9, 0), Mtime: time.Unix(1e9, 0)}); code(err) != remote.StatusOpUnsupported {
		t.Errorf("a symlink's own times without lsetstat: %v, want unsupported", err)
	}
	if got := strings.Join(c.Lacks(), "\n"); got != lacks {
		t.Errorf("Lacks grew after the fallbacks:\n%s\nwas\n%s", got, lacks)
	}
	for _, x := range names {
		if n := strings.Count(debug.String(), "server lacks "+x+": "); n != 1 {
			t.Errorf("-d log names %s %d times", x, n)
		}
	}
}

// A server that refuses SETSTAT as not supported: the first refusal is
// learned (one line), the call fails with that status (fs: ENOTSUP), and
// the same call is not sent again.
func TestARefusedSetstatIsLearnedOnceAndNotAskedAgain(t *testing.T) {
	served := t.TempDir()
	put(t, filepath.Join(served, "f"), "x")
	c, debug := connect(t, remotetest.ServeWith(served, remotetest.Quirks{SetstatStatus: remote.StatusOpUnsupported}), served)
	ctx := context.Background()
	for try := 0; try < 2; try++ {
		err := c.Path("f", false).Chmod(ctx, 0o600)
		if code(err) != remote.StatusOpUnsupported {
			t.Errorf("chmod %d: %v, want unsupported", try, err)
		}
		if try == 1 && !strings.Contains(err.Error(), "not asked again") {
			t.Errorf("the second chmod was sent: %v", err)
		}
	}
	if err := c.Truncate(ctx, "f", 0); code(err) != remote.StatusOpUnsupported {
		t.Errorf("truncate: %v, want unsupported", err)
	}
	if fi, _ := os.Stat(filepath.Join(served, "f")); fi.Mode().Perm() != 0o644 || fi.Size() != 1 {
		t.Errorf("f on the server: %v", fi.Mode())
	}
	if n := strings.Count(debug.String(), "server lacks SETSTAT: "); n != 1 {
		t.Errorf("-d log names SETSTAT %d times:\n%s", n, debug)
	}
	if l := strings.Join(c.Lacks(), "\n"); !strings.Contains(l, "SETSTAT: ") {
		t.Errorf("Lacks: %q", l)
	}
}

// A server that takes writes only at a file's end: the first refusal of
// one elsewhere is learned (one line), it fails with the server's status
// (fs: ENOTSUP), and a write at the end still goes.
func TestAWriteRefusedWhereItLandsIsLearnedAndOthersStillGo(t *testing.T) {
	served := t.TempDir()
	c, debug := connect(t, remotetest.ServeWith(served, remotetest.Quirks{AppendOnly: true}), served)
	ctx := context.Background()
	f, err := c.OpenFile(ctx, "f", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	if _, err := f.WriteAt(ctx, []byte("0123456789"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(ctx, []byte("XY"), 3); code(err) != remote.StatusOpUnsupported {
		t.Errorf("a write at 3: %v, want unsupported", err)
	}
	if _, err := f.WriteAt(ctx, []byte("ab"), 10); err != nil {
		t.Errorf("a write at the end after a refused one: %v", err)
	}
	has(t, filepath.Join(served, "f"), "0123456789ab")
	if n := strings.Count(debug.String(), "server lacks random writes: "); n != 1 {
		t.Errorf("-d log names random writes %d times:\n%s", n, debug)
	}
}

// pkg/sftp's server renames with Go's os.Rename, which will not replace
// a directory: a directory renamed over an empty one still is, as
// rename(2) does, and one not empty is refused and kept.
func TestADirectoryReplacesAnEmptyOneOnPkgSFTPsServer(t *testing.T) {
	served := t.TempDir()
	c, _ := connect(t, remotetest.Serve(served), served)
	at := func(name string) string { return filepath.Join(served, name) }
	for _, d := range []string{"a", "b", "full"} {
		os.Mkdir(at(d), 0o755)
	}
	put(t, at("a/in"), "moved")
	put(t, at("full/in"), "kept")
	if err := c.Rename(context.Background(), "a", "b"); err != nil {
		t.Errorf("a directory over an empty one: %v", err)
	}
	has(t, at("b/in"), "moved")
	if err := c.Rename(context.Background(), "b", "full"); err == nil {
		t.Errorf("a directory over one not empty: %v", err)
	}
	has(t, at("full/in"), "kept")
	has(t, at("b/in"), "moved")
	if left, _ := filepath.Glob(at(".sftpmount-aside-*")); len(left) > 0 {
		t.Errorf("names left aside on the server: %v", left)
	}
}
