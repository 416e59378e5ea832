//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A desktop user mounts in their home as themselves, through the setuid
// fusermount3, writes through it, and unmounts with fusermount3 -u; the
// serving process then ends. /dev/fuse is mode 0666 on desktops (the test
// sets that for its run): fusermount3 opens it with the user's own
// privileges, and so does the check before mounting. Where it is root's
// alone, both refuse, and so the check says why in one line.
func TestAnUnprivilegedUserMountsInTheirHomeAndUnmountsWithFusermount(t *testing.T) {
	needServer(t)
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp(u.HomeDir, "sftpmount-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	key, known, mnt := filepath.Join(dir, "key"), filepath.Join(dir, "known_hosts"), filepath.Join(dir, "mnt")
	writeFile(t, key, readFile(t, server.userKey), 0600)
	writeFile(t, known, readFile(t, server.knownHosts), 0644)
	os.Mkdir(mnt, 0755)
	for _, p := range []string{dir, key, known, mnt} {
		os.Chown(p, uid, gid)
	}
	served := newServedDir(t, testUser)
	fi, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{binary, testUser + "@127.0.0.1:" + served, mnt, "-p", strconv.Itoa(server.port), "-o", "IdentityFile=" + key + ",UserKnownHostsFile=" + known}
	if fi.Mode().Perm()&0006 != 0006 {
		out, err := asUserIn(dir, u.HomeDir, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "/dev/fuse") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Fatalf("with /dev/fuse %v: %v: %q, want one line about /dev/fuse", fi.Mode().Perm(), err, out)
		}
		if err := os.Chmod("/dev/fuse", 0666); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod("/dev/fuse", fi.Mode().Perm()) })
	}
	asUser := func(args ...string) *exec.Cmd { return asUserIn(dir, u.HomeDir, args...) }
	t.Cleanup(func() {
		if isMounted(mnt) {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
		for _, pid := range processesServing(mnt) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	out, err := asUser(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mounting as %s: %v: %s", testUser, err, out)
	}
	if !isMounted(mnt) {
		t.Fatalf("exited 0 but %s is not mounted", mnt)
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	if !strings.Contains(string(mounts), mnt+" fuse.sftpmount") || !strings.Contains(string(mounts), fmt.Sprintf("user_id=%d", uid)) {
		t.Errorf("/proc/mounts does not show the mount as %s's: %s", testUser, mounts)
	}
	pids := processesServing(mnt)
	if len(pids) == 0 {
		t.Fatal("no process serves the mount")
	}
	if st, err := os.Stat(fmt.Sprintf("/proc/%d", pids[0])); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("the serving process is not %s's", testUser)
	}
	if out, err := asUser("sh", "-c", "echo from a desktop user > mnt/f && cat mnt/f").CombinedOutput(); err != nil || string(out) != "from a desktop user\n" {
		t.Fatalf("writing through the mount as %s: %v: %q", testUser, err, out)
	}
	st, err := os.Stat(filepath.Join(served, "f"))
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(uid) || readFile(t, filepath.Join(served, "f")) != "from a desktop user\n" {
		t.Fatalf("the server's file: %v", err)
	}
	if out, err := asUser("fusermount3", "-u", mnt).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u as %s: %v: %s", testUser, err, out)
	}
	if isMounted(mnt) {
		t.Fatal("still mounted after fusermount3 -u")
	}
	if !waitFor(5*time.Second, func() bool { return !alive(pids[0]) }) {
		t.Error("the serving process outlived the unmount")
	}
}

// asUserIn runs a command as testUser in dir, with home as $HOME.
func asUserIn(dir, home string, args ...string) *exec.Cmd {
	cmd := exec.Command("runuser", append([]string{"-u", testUser, "--", "env", "HOME=" + home}, append(baseEnv(), args...)...)...)
	cmd.Dir = dir
	return cmd
}
