//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestIdmapUserShowsTheRemoteUsersFilesAsMine(t *testing.T) {
	m := mountAs(t, testUser, "-o", "idmap=user")
	sh(t, m.mnt, "echo x > mine")
	writeFile(t, filepath.Join(m.remote, "roots"), "r", 0644)
	st := statT(t, filepath.Join(m.mnt, "mine"))
	if st.Uid != uint32(os.Getuid()) {
		t.Errorf("remote user's file shown as uid %d, want the local %d", st.Uid, os.Getuid())
	}
	if ownerName(t, statInfo(t, filepath.Join(m.remote, "mine"))) != testUser {
		t.Error("file not owned by the remote user on the server")
	}
	// A name made on the server while this mount fills the directory
	// shows within negative_timeout (docs/caches.md): the bulk answer at
	// mount may have listed it before.
	if !waitFor(3*time.Second, func() bool { _, err := os.Lstat(filepath.Join(m.mnt, "roots")); return err == nil }) {
		t.Fatal("roots, made on the server, not shown within 3 s")
	}
	if st := statT(t, filepath.Join(m.mnt, "roots")); st.Uid != 0 {
		t.Errorf("another user's file: uid %d, want 0 (unmapped)", st.Uid)
	}
	// chown to the local user means the remote user: allowed, no change.
	if err := os.Chown(filepath.Join(m.mnt, "mine"), os.Getuid(), -1); err != nil {
		t.Fatalf("chown to myself: %v", err)
	}
	if ownerName(t, statInfo(t, filepath.Join(m.remote, "mine"))) != testUser {
		t.Error("owner changed on the server")
	}
}

func TestUidGidAndUmaskOptionsChangeWhatIsShownOnly(t *testing.T) {
	m := mount(t, "-o", "uid=1234,gid=5678,umask=027")
	writeFile(t, filepath.Join(m.remote, "f"), "x", 0666)
	os.Chmod(filepath.Join(m.remote, "f"), 0666) // past this process's umask
	st := statT(t, filepath.Join(m.mnt, "f"))
	if st.Uid != 1234 || st.Gid != 5678 || st.Mode&07777 != 0640 {
		t.Fatalf("shown uid %d gid %d mode %o, want 1234 5678 640", st.Uid, st.Gid, st.Mode&07777)
	}
	if fi := statInfo(t, filepath.Join(m.remote, "f")); fi.Mode().Perm() != 0666 {
		t.Fatalf("server mode changed: %v", fi.Mode())
	}
}

func statT(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	return statInfo(t, p).Sys().(*syscall.Stat_t)
}

func statInfo(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// asLocalUser runs a shell command as the unprivileged local account.
func asLocalUser(dir, script string) (string, error) {
	return shErr(dir, "runuser -u "+testUser+" -- sh -c '"+script+"'")
}

func TestAllowOtherLetsOtherLocalUsersIn(t *testing.T) {
	m := mount(t)
	writeFile(t, filepath.Join(m.remote, "f"), "shared", 0644)
	if out, err := asLocalUser("/", "cat "+m.mnt+"/f"); err == nil {
		t.Fatalf("another local user read a mount without allow_other: %q", out)
	}
	m = mount(t, "-o", "allow_other")
	writeFile(t, filepath.Join(m.remote, "f"), "shared", 0644)
	if out, err := asLocalUser("/", "cat "+m.mnt+"/f"); err != nil || out != "shared" {
		t.Fatalf("with allow_other: %q %v", out, err)
	}
}

func TestDefaultPermissionsLetsTheKernelCheckModes(t *testing.T) {
	// The server logs in as root, so without default_permissions it lets
	// any local user (allowed in by allow_other) read a 0600 file.
	private := func(m *mounted) { writeFile(t, filepath.Join(m.remote, "secret"), "s", 0600) }
	m := mount(t, "-o", "allow_other")
	private(m)
	if out, err := asLocalUser("/", "cat "+m.mnt+"/secret"); err != nil || out != "s" {
		t.Fatalf("without default_permissions: %q %v", out, err)
	}
	m = mount(t, "-o", "allow_other,default_permissions")
	private(m)
	out, err := asLocalUser("/", "cat "+m.mnt+"/secret")
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("with default_permissions another user read a 0600 file: %q %v", out, err)
	}
}
