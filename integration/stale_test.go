//go:build linux

package integration

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// After a lost connection an open file is reopened by its path, and SFTP
// has no inode numbers: a file replaced or removed on the server in the
// meantime must make the handle fail (ESTALE), never read another file in
// its place.
func TestAFileReplacedOrRemovedOnTheServerWhileTheLinkWasDownIsNotReadInItsPlace(t *testing.T) {
	link := newSlowLink(t, 0)
	m := mountThrough(t, link, "-o", "timeout=10")
	for _, change := range []string{"replaced", "removed", "unchanged"} {
		t.Run(change, func(t *testing.T) {
			path := filepath.Join(m.remote, change)
			randomFile(t, path, 4<<20)
			want, _ := os.ReadFile(path)
			f, err := os.Open(filepath.Join(m.mnt, change))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			head := make([]byte, 4096)
			if _, err := f.ReadAt(head, 0); err != nil {
				t.Fatal(err)
			}
			switch change {
			case "replaced":
				sh(t, m.remote, "mv replaced replaced.old && head -c 2097152 /dev/urandom > replaced")
			case "removed":
				sh(t, m.remote, "rm removed")
			}
			link.reset(t)
			buf := make([]byte, 64<<10)
			n, err := f.ReadAt(buf, 3<<20)
			if change == "unchanged" {
				if err != nil || !bytes.Equal(buf[:n], want[3<<20:3<<20+n]) || n != len(buf) {
					t.Fatalf("unchanged file after a reset: n=%d err=%v", n, err)
				}
				return
			}
			if !errors.Is(err, syscall.ESTALE) {
				t.Fatalf("read after the file was %s: n=%d err=%v, want ESTALE", change, n, err)
			}
		})
	}
}

func TestAChangeOnTheServerIsSeenOnceTheCacheTimeoutHasPassed(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	path := filepath.Join(m.remote, "f")
	writeFile(t, path, "version 1", 0644)
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "version 1" {
		t.Fatalf("read %q", got)
	}
	// Same size, another mtime: only the timeout can tell the mount.
	writeFile(t, path, "version 2", 0644)
	sh(t, m.remote, "touch -d '2001-02-03 04:05:06' f")
	if !waitFor(3e9, func() bool { data, _ := os.ReadFile(filepath.Join(m.mnt, "f")); return string(data) == "version 2" }) {
		t.Fatalf("still %q after the cache timeout", readFile(t, filepath.Join(m.mnt, "f")))
	}
}

// A file that grows on the server while a reader holds it open (a log
// under tail -f) is read past the end it had when opened, once the cache
// timeout lets the mount see the new size.
func TestAFileGrowingOnTheServerIsReadPastItsOldEndThroughTheSameHandle(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	path := filepath.Join(m.remote, "log")
	writeFile(t, path, "first line\n", 0644)
	f, err := os.Open(filepath.Join(m.mnt, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || string(got) != "first line\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	more := strings.Repeat("more\n", 2000)
	sh(t, m.remote, "printf '%s' '"+more+"' >> log")
	if !waitFor(5e9, func() bool {
		f.Stat() // the size is learned again once the timeout has passed
		rest, _ := io.ReadAll(f)
		got = append(got, rest...)
		return len(got) >= len("first line\n")+len(more)
	}) {
		t.Fatalf("read %d bytes after the file grew to %d", len(got), len("first line\n")+len(more))
	}
	if string(got) != "first line\n"+more {
		t.Fatal("the bytes read differ from the file's")
	}
}
