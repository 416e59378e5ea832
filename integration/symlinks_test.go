//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestLinksThatCouldLeaveTheMountAreRefusedByDefault(t *testing.T) {
	m := mount(t)
	// The server and this machine share a filesystem here, so an absolute
	// target names a real local file: the attack contain_symlinks stops.
	victim := filepath.Join(t.TempDir(), "victim")
	writeFile(t, victim, "local secret\n", 0644)
	sh(t, m.remote, "mkdir sub && echo inside > sub/f && ln -s "+victim+" evil && ln -s ../../x up && ln -s sub/f fine && ln -s sub/../sub/f climbs")

	for _, name := range []string{"evil", "up", "climbs"} {
		_, err := os.Readlink(filepath.Join(m.mnt, name))
		wantErrno(t, "readlink "+name, err, syscall.EPERM)
	}
	_, err := os.ReadFile(filepath.Join(m.mnt, "evil"))
	wantErrno(t, "read through evil", err, syscall.EPERM)
	err = os.WriteFile(filepath.Join(m.mnt, "evil"), []byte("pwned\n"), 0644)
	wantErrno(t, "write through evil", err, syscall.EPERM)
	if got := readFile(t, victim); got != "local secret\n" {
		t.Fatalf("local file changed through the mount: %q", got)
	}
	if got := readFile(t, filepath.Join(m.mnt, "fine")); got != "inside\n" {
		t.Fatalf("contained link: %q", got)
	}
	// ls -l still lists every name.
	if out := sh(t, m.mnt, "ls | sort | tr '\\n' ' '"); out != "climbs evil fine sub up " {
		t.Fatalf("ls: %q", out)
	}
}

// transform_symlinks makes absolute targets inside the served directory
// relative. With containment (the default) a transformed target is held
// to the same rule as any, as in sshfs 3.7.6: one that climbs with ".."
// to reach a sibling directory is EPERM, one below the link's directory
// passes; without containment both work.
func TestTransformSymlinksMakesAbsoluteTargetsInsideRelative(t *testing.T) {
	for _, contain := range []bool{true, false} {
		t.Run(fmt.Sprintf("contain=%v", contain), func(t *testing.T) {
			opts := "transform_symlinks"
			if !contain {
				opts += ",no_contain_symlinks"
			}
			m := mount(t, "-o", opts)
			sh(t, m.remote, "mkdir -p a b && echo B > b/f && ln -s "+m.remote+"/b/f a/l && ln -s "+m.remote+"/b/f inbase && ln -s /etc/hostname a/out")
			if got, err := os.Readlink(filepath.Join(m.mnt, "inbase")); err != nil || got != "b/f" {
				t.Fatalf("readlink inbase: %q %v, want b/f", got, err)
			}
			if got := readFile(t, filepath.Join(m.mnt, "inbase")); got != "B\n" {
				t.Fatalf("read through the transformed link: %q", got)
			}
			got, err := os.Readlink(filepath.Join(m.mnt, "a/l"))
			if contain {
				wantErrno(t, "a transformed target that climbs with ..", err, syscall.EPERM)
			} else if err != nil || got != "../b/f" {
				t.Fatalf("readlink a/l: %q %v, want ../b/f", got, err)
			} else if got := readFile(t, filepath.Join(m.mnt, "a/l")); got != "B\n" {
				t.Fatalf("read through transformed link: %q", got)
			}
			got, err = os.Readlink(filepath.Join(m.mnt, "a/out"))
			if contain {
				wantErrno(t, "absolute target outside the served dir", err, syscall.EPERM)
			} else if err != nil || got != "/etc/hostname" {
				t.Fatalf("readlink a/out without containment: %q %v", got, err)
			}
			if got, _ := os.Readlink(filepath.Join(m.remote, "a/l")); got != m.remote+"/b/f" {
				t.Fatalf("server link changed: %q", got)
			}
		})
	}
}

func TestFollowSymlinksShowsWhatLinksPointTo(t *testing.T) {
	m := mount(t, "-o", "follow_symlinks")
	sh(t, m.remote, "mkdir d && echo 12345 > f && touch d/inner && ln -s f lf && ln -s d ld && ln -s nowhere dangling")
	fi, err := os.Lstat(filepath.Join(m.mnt, "lf"))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 6 {
		t.Fatalf("lf: %v %v, want a 6-byte regular file", fi, err)
	}
	fi, err = os.Lstat(filepath.Join(m.mnt, "ld"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("ld: %v %v, want a directory", fi, err)
	}
	if names := sh(t, m.mnt, "ls ld"); names != "inner\n" {
		t.Fatalf("ls ld: %q", names)
	}
	fi, err = os.Lstat(filepath.Join(m.mnt, "dangling"))
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("dangling: %v %v, want the link itself", fi, err)
	}
}

func TestSymlinkLoopIsELOOP(t *testing.T) {
	for _, opts := range [][]string{nil, {"-o", "follow_symlinks"}} {
		t.Run(strings.Join(opts, ""), func(t *testing.T) {
			m := mount(t, opts...)
			sh(t, m.remote, "ln -s b a && ln -s a b")
			_, err := os.ReadFile(filepath.Join(m.mnt, "a"))
			wantErrno(t, "open a", err, syscall.ELOOP)
		})
	}
}

// A symlink's own times and owner are set with lsetstat@openssh.com: tar
// -x restores them, touch -h and chown -h change them, and the target is
// never touched (SFTP v3's setstat would follow the link).
func TestALinksOwnTimesAndOwnerAreSetWithoutTouchingItsTarget(t *testing.T) {
	m := mount(t)
	src := t.TempDir()
	sh(t, src, "mkdir t && echo x > t/target && ln -s target t/link && touch -d @1200000000 t/target && chown -h 1234:5678 t/link && touch -h -d @1000000000 t/link && tar -cf t.tar t")
	sh(t, m.mnt, "tar -xpf "+src+"/t.tar")
	link := statInfo(t, filepath.Join(m.remote, "t/link"))
	if st := link.Sys().(*syscall.Stat_t); link.ModTime().Unix() != 1000000000 || st.Uid != 1234 || st.Gid != 5678 {
		t.Fatalf("the link on the server after tar -x: mtime %d, owner %d:%d; want 1000000000, 1234:5678", link.ModTime().Unix(), st.Uid, st.Gid)
	}
	if fi, _ := os.Stat(filepath.Join(m.remote, "t/target")); fi.ModTime().Unix() != 1200000000 {
		t.Fatalf("the target's mtime is %d, want 1200000000", fi.ModTime().Unix())
	}
	sh(t, m.mnt, "touch -h -d @1100000000 t/link && chown -h 4321:8765 t/link")
	link = statInfo(t, filepath.Join(m.remote, "t/link"))
	if st := link.Sys().(*syscall.Stat_t); link.ModTime().Unix() != 1100000000 || st.Uid != 4321 || st.Gid != 8765 {
		t.Fatalf("after touch -h and chown -h: mtime %d, owner %d:%d", link.ModTime().Unix(), st.Uid, st.Gid)
	}
	if st := statInfo(t, filepath.Join(m.remote, "t/target")).Sys().(*syscall.Stat_t); st.Uid != 0 {
		t.Fatalf("the target's owner changed to %d", st.Uid)
	}
	if fi := statInfo(t, filepath.Join(m.mnt, "t/link")); fi.ModTime().Unix() != 1100000000 {
		t.Fatalf("the mount shows the link's mtime as %d", fi.ModTime().Unix())
	}
}
