package fs

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"go.uber.org/goleak"

	"github.com/sftpmount/sftpmount/fs/writeback"
	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/remotetest"
)

// A real mount, served in this process over pkg/sftp's server on a pipe,
// through every kind of work that starts goroutines (write-back uploads,
// listings streamed and made ahead, files fetched ahead of a walk, absent
// names asked about again, held changes of new files, kernel notices):
// after unmount, Close ends every goroutine the mount started, and the
// journal is left whole.
func TestCloseAfterUnmountEndsEveryGoroutineTheMountStarted(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs /dev/fuse and root, which CI has")
		}
		t.Skip("needs /dev/fuse and root")
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	served, mnt := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(served, "there"), []byte("on the server\n"), 0o644)
	srv := remotetest.Serve(served)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := remote.ConnectStream(ctx, remote.Config{Dir: served, Timeout: 10 * time.Second}, srv.Open)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := writeback.OpenJournal(writeback.JournalConfig{Dir: filepath.Join(t.TempDir(), "journal")})
	if err != nil {
		t.Fatal(err)
	}
	root := NewRoot(rc, Options{
		Caches:    CachesFor(time.Second),
		Debug:     log.New(os.Stderr, "DBG ", 0),
		Timeout:   10 * time.Second,
		Writeback: &writeback.Config{Journal: journal, On: true, Delay: 50 * time.Millisecond, Notice: func(string) {}},
	})
	f := root.FS()
	if _, err := f.LoadJournal(); err != nil {
		t.Fatal(err)
	}
	server, err := fusefs.Mount(mnt, root, &fusefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	mounted := true
	defer func() {
		if mounted {
			server.Unmount()
		}
	}()

	work(t, mnt)
	if failed := f.Sync(ctx); len(failed) > 0 {
		t.Fatalf("not uploaded: %v", failed)
	}
	if err := server.Unmount(); err != nil {
		t.Fatal(err)
	}
	mounted = false
	f.Close(ctx)
	rc.Close()
	srv.Close()
	if err := journal.Close(); err != nil {
		t.Fatal(err)
	}
	// What the mount wrote is on the server, as the workload left it.
	for i := range 5 {
		want := fmt.Sprintf("file %d\n", i)
		if got, err := os.ReadFile(filepath.Join(served, "d", fmt.Sprintf("moved%d", i))); err != nil || string(got) != want {
			t.Errorf("d/moved%d on the server: %q, %v; want %q", i, got, err, want)
		}
	}
}

// work is a little of everything a user does, each step checked.
func work(t *testing.T, mnt string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(mnt, "d"), 0o755))
	for i := range 5 {
		p := filepath.Join(mnt, "d", fmt.Sprintf("f%d", i))
		must(os.WriteFile(p, []byte(fmt.Sprintf("file %d\n", i)), 0o644))
		must(os.Chmod(p, 0o600))
		must(os.Rename(p, filepath.Join(mnt, "d", fmt.Sprintf("moved%d", i))))
	}
	for i := range 30 {
		must(os.MkdirAll(filepath.Join(mnt, "tree", fmt.Sprintf("sub%d", i%3)), 0o755))
		must(os.WriteFile(filepath.Join(mnt, "tree", fmt.Sprintf("sub%d", i%3), fmt.Sprintf("n%d", i)), []byte(strings.Repeat("x", i)), 0o644))
	}
	must(os.Symlink("moved0", filepath.Join(mnt, "d", "link")))
	// pkg/sftp's server stores a relative target made absolute.
	if got, err := os.Readlink(filepath.Join(mnt, "d", "link")); err != nil || !strings.HasSuffix(got, "moved0") {
		t.Fatalf("readlink: %q, %v", got, err)
	}
	must(os.Link(filepath.Join(mnt, "there"), filepath.Join(mnt, "there2")))
	fd, err := os.OpenFile(filepath.Join(mnt, "there"), os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	_, err = fd.WriteString("appended\n")
	must(err)
	must(fd.Close())
	must(os.Truncate(filepath.Join(mnt, "there2"), 5))
	// A walk: listings streamed and made ahead, files fetched ahead, and
	// absent names asked about (and again, while they are in use).
	for range 2 {
		n := 0
		must(filepath.Walk(mnt, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				_, err = os.ReadFile(p)
				n++
			}
			return err
		}))
		if n < 37 {
			t.Fatalf("the walk read %d files", n)
		}
		for i := range 3 {
			if _, err := os.Stat(filepath.Join(mnt, "tree", fmt.Sprintf("absent%d", i))); !os.IsNotExist(err) {
				t.Fatalf("stat of an absent name: %v", err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	must(os.Remove(filepath.Join(mnt, "there2")))
	var st syscall.Statfs_t
	must(syscall.Statfs(mnt, &st))
}
