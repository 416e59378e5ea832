//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTree builds a small tree with nested dirs, a symlink, modes and mtimes.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	sh(t, dir, `mkdir -p src/pkg/deep && head -c 300000 /dev/urandom > src/blob.bin
printf 'hello\n' > src/pkg/a.txt && printf '#!/bin/sh\n' > src/run.sh && chmod 0755 src/run.sh
: > src/pkg/deep/empty && ln -s pkg/a.txt src/link
touch -d '2020-05-05 05:05:05 UTC' src/pkg/a.txt src/run.sh`)
}

// treeListing describes a tree by type, mode, size, mtime (whole seconds,
// as SFTP carries them), link target and content hash, for comparing two
// trees. A symlink's own mtime is left out: SFTP cannot set it.
func treeListing(t *testing.T, dir string) string {
	t.Helper()
	return sh(t, dir, `{ find . -mindepth 1 ! -type l -printf '%P %y %m %s %TY%Tm%Td%TH%TM%TS\n' | sed 's/\.[0-9]*$//'; find . -type l -printf '%P -> %l\n'; } | sort
find . -type f -print0 | sort -z | xargs -0 sha256sum`)
}

func TestRsyncIntoTheMountCopiesTreeToServer(t *testing.T) {
	m := mount(t)
	local := t.TempDir()
	makeTree(t, local)
	sh(t, local, "rsync -a src/ "+m.mnt+"/dst/")
	if got, want := treeListing(t, filepath.Join(m.remote, "dst")), treeListing(t, filepath.Join(local, "src")); got != want {
		t.Fatalf("server tree differs:\n%s\nwant:\n%s", got, want)
	}
}

func TestRsyncOutOfTheMountCopiesServersTree(t *testing.T) {
	m := mount(t)
	makeTree(t, m.remote)
	local := t.TempDir()
	sh(t, m.mnt, "rsync -a src/ "+local+"/dst/")
	if got, want := treeListing(t, filepath.Join(local, "dst")), treeListing(t, filepath.Join(m.remote, "src")); got != want {
		t.Fatalf("copied tree differs:\n%s\nwant:\n%s", got, want)
	}
}

func TestTarExtractsIntoTheMountAndCreatesFromIt(t *testing.T) {
	m := mount(t)
	local := t.TempDir()
	makeTree(t, local)
	sh(t, local, "tar -cf in.tar src")
	sh(t, m.mnt, "tar -xf "+filepath.Join(local, "in.tar"))
	if got, want := treeListing(t, filepath.Join(m.remote, "src")), treeListing(t, filepath.Join(local, "src")); got != want {
		t.Fatalf("extracted tree on server differs:\n%s\nwant:\n%s", got, want)
	}
	sh(t, m.mnt, "tar -cf "+filepath.Join(local, "out.tar")+" src")
	sh(t, local, "mkdir back && tar -xf out.tar -C back")
	if got, want := treeListing(t, filepath.Join(local, "back/src")), treeListing(t, filepath.Join(m.remote, "src")); got != want {
		t.Fatalf("tree archived from the mount differs:\n%s\nwant:\n%s", got, want)
	}
}

func TestGitInitAddCommitStatusInsideTheMount(t *testing.T) {
	m := mount(t)
	out := sh(t, m.mnt, `export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
mkdir repo && cd repo && git init -q && echo one > a.txt && mkdir d && echo two > d/b.txt
git add -A && git commit -q -m first && echo changed >> a.txt && git status --porcelain && git log --oneline | wc -l`)
	if out != " M a.txt\n1\n" {
		t.Fatalf("git status/log inside the mount: %q", out)
	}
	// The server's copy is a valid repository that git itself can read.
	check := sh(t, filepath.Join(m.remote, "repo"), "git fsck --strict && git show HEAD:d/b.txt && git status --porcelain")
	if check != "two\n M a.txt\n" {
		t.Fatalf("repository on the server: %q", check)
	}
}

func TestCpPAndTouchRPreserveModeAndTimesOnServer(t *testing.T) {
	m := mount(t)
	local := t.TempDir()
	writeFile(t, filepath.Join(local, "f"), "data", 0640)
	sh(t, local, "touch -d '2018-03-04 05:06:07 UTC' f && cp -p f "+m.mnt+"/f && touch "+m.mnt+"/g && touch -r f "+m.mnt+"/g")
	if fi, err := os.Stat(filepath.Join(m.remote, "g")); err != nil || fi.ModTime().Unix() != 1520139967 {
		t.Fatalf("server file after touch -r: %v %v", fi, err)
	}
	fi, err := os.Stat(filepath.Join(m.remote, "f"))
	if err != nil || fi.Mode().Perm() != 0640 || fi.ModTime().Unix() != 1520139967 {
		t.Fatalf("server file after cp -p: %v %v", fi, err)
	}
	if strings.TrimSpace(readFile(t, filepath.Join(m.remote, "f"))) != "data" {
		t.Fatal("content lost")
	}
}
