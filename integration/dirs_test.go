//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestLsLaShowsTheServersNamesModesAndSizes(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "a.txt"), "12345", 0640)
	os.Mkdir(filepath.Join(m.remote, "sub"), 0750)
	os.Symlink("a.txt", filepath.Join(m.remote, "link"))
	out := sh(t, m.mnt, "ls -la")
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(l)
		lines[f[8]] = l
	}
	for name, prefix := range map[string]string{".": "drwxr-xr-x", "..": "d", "a.txt": "-rw-r-----", "sub": "drwxr-x---", "link": "lrwxrwxrwx"} {
		if !strings.HasPrefix(lines[name], prefix) {
			t.Errorf("ls -la line for %s: %q, want mode %s\n%s", name, lines[name], prefix, out)
		}
	}
	if f := strings.Fields(lines["a.txt"]); len(f) < 5 || f[4] != "5" {
		t.Errorf("size of a.txt: %q", lines["a.txt"])
	}
	if !strings.HasSuffix(lines["link"], "link -> a.txt") {
		t.Errorf("symlink line: %q", lines["link"])
	}
}

func TestStatReportsTheServersSizeModeAndMtime(t *testing.T) {
	m := mount(t)
	p := filepath.Join(m.remote, "f")
	writeFile(t, p, "abc", 0604)
	sh(t, m.remote, "touch -d '2021-02-03 04:05:06 UTC' f")
	got := strings.TrimSpace(sh(t, m.mnt, "stat -c '%s %a %Y %F' f"))
	if got != "3 604 1612325106 regular file" {
		t.Fatalf("stat through the mount: %q", got)
	}
}

func TestMkdirPCreatesNestedDirectoriesOnServer(t *testing.T) {
	m := mount(t)
	sh(t, m.mnt, "mkdir -p a/b/c && mkdir -m 0700 private")
	if fi, err := os.Stat(filepath.Join(m.remote, "a/b/c")); err != nil || !fi.IsDir() {
		t.Fatalf("a/b/c on server: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(m.remote, "private")); err != nil || fi.Mode().Perm() != 0700 {
		t.Fatalf("private on server: %v %v", fi, err)
	}
}

func TestRmdirRemovesAnEmptyDirectoryOnServer(t *testing.T) {
	m := mount(t)
	os.Mkdir(filepath.Join(m.remote, "empty"), 0755)
	sh(t, m.mnt, "ls empty && rmdir empty")
	if _, err := os.Stat(filepath.Join(m.remote, "empty")); !os.IsNotExist(err) {
		t.Fatalf("directory still on server: %v", err)
	}
}

func TestRmRRemovesATreeOnServer(t *testing.T) {
	m := mount(t)
	sh(t, m.remote, "mkdir -p tree/x/y && touch tree/1 tree/x/2 tree/x/y/3 && ln -s 1 tree/l")
	sh(t, m.mnt, "rm -r tree")
	if _, err := os.Stat(filepath.Join(m.remote, "tree")); !os.IsNotExist(err) {
		t.Fatalf("tree still on server: %v", err)
	}
}

func TestMvRenamesAndReplacesAnExistingFileOnServer(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "a"), "A", 0644)
	writeFile(t, filepath.Join(m.remote, "b"), "B", 0644)
	os.Mkdir(filepath.Join(m.remote, "d"), 0755)
	sh(t, m.mnt, "mv a renamed && mv renamed b && mv d d2")
	if got := readFile(t, filepath.Join(m.remote, "b")); got != "A" {
		t.Fatalf("b on server after mv over it: %q", got)
	}
	names := listRemote(t, m.remote)
	if strings.Join(names, " ") != "b d2" {
		t.Fatalf("server directory: %v", names)
	}
}

func TestSymlinkAndReadlinkKeepTheTargetAsWritten(t *testing.T) {
	m := mount(t, "-o", "no_contain_symlinks")
	writeFile(t, filepath.Join(m.remote, "target"), "T", 0644)
	sh(t, m.mnt, "ln -s target rel && ln -s /etc/hostname abs && ln -s ../../nowhere dangling")
	for name, want := range map[string]string{"rel": "target", "abs": "/etc/hostname", "dangling": "../../nowhere"} {
		got, err := os.Readlink(filepath.Join(m.remote, name))
		if err != nil || got != want {
			t.Errorf("server link %s -> %q (%v), want %q", name, got, err, want)
		}
		if out := strings.TrimSpace(sh(t, m.mnt, "readlink "+name)); out != want {
			t.Errorf("readlink %s through the mount: %q, want %q", name, out, want)
		}
	}
	if got := sh(t, m.mnt, "cat rel"); got != "T" {
		t.Errorf("reading through a relative link: %q", got)
	}
}

func TestLargeDirectoryListsCompletely(t *testing.T) {
	m := mount(t)
	sh(t, m.remote, "for i in $(seq 1 10000); do : > f$i; done")
	out := sh(t, m.mnt, "ls | wc -l")
	if strings.TrimSpace(out) != "10000" {
		t.Fatalf("ls counted %s entries, want 10000", strings.TrimSpace(out))
	}
}

func listRemote(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestServerSideChangesShowAfterTheCacheTimeout(t *testing.T) {
	m := mount(t, "-o", "cache_timeout=1")
	if names := sh(t, m.mnt, "ls"); names != "" {
		t.Fatalf("fresh directory lists %q", names)
	}
	// Made on the server behind the mount's back, after it listed the dir.
	writeFile(t, filepath.Join(m.remote, "late"), "news", 0644)
	if !waitFor(5*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(m.mnt, "late"))
		return err == nil && string(b) == "news"
	}) {
		t.Fatal("a file made on the server never showed through the mount")
	}
}
