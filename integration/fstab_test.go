//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// installedPath is where the README installs sftpmount. mount(8) runs its
// helpers without PATH, so mount.fuse3 finds `sftpmount` only in the
// shell's default directories.
const installedPath = "/usr/local/bin/sftpmount"

// installForMount puts the binary under test at installedPath for the
// test, keeping aside (and restoring) whatever was there.
func installForMount(t *testing.T) {
	t.Helper()
	backup := installedPath + ".before-sftpmount-tests"
	if _, err := os.Lstat(installedPath); err == nil {
		if err := os.Rename(installedPath, backup); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(binary, installedPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(installedPath)
		os.Rename(backup, installedPath)
	})
}

// viaMountCommand runs mount(8): it hands type fuse.sftpmount to
// mount.fuse3, which runs `sftpmount SOURCE DIR -o OPTS`.
func viaMountCommand(t *testing.T, args ...string) {
	t.Helper()
	installForMount(t)
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// mountedType is the filesystem type /proc/self/mountinfo gives for mnt.
func mountedType(mnt string) string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == mnt {
			for i, field := range f {
				if field == "-" && i+1 < len(f) {
					return f[i+1]
				}
			}
		}
	}
	return ""
}

// unmountWithUmount unmounts at the end of the test and waits until no
// sftpmount process (started by mount.fuse3, so named just "sftpmount")
// serves mnt any more.
func unmountWithUmount(t *testing.T, mnt string) {
	t.Cleanup(func() {
		if isMounted(mnt) {
			exec.Command("umount", mnt).Run()
		}
		waitFor(5*time.Second, func() bool { return len(processesNamed("sftpmount", mnt)) == 0 })
		for _, pid := range processesNamed("sftpmount", mnt) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
}

func processesNamed(name, mnt string) []int {
	var pids []int
	eachProcess("cmdline", func(pid int, cmdline []byte) {
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) != name {
			return
		}
		for _, a := range args[1:] {
			if a == mnt {
				pids = append(pids, pid)
			}
		}
	})
	return pids
}

func fstabOptions() string {
	return "port=" + strconv.Itoa(server.port) + ",IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + server.knownHosts
}

func TestFstabLineMountsWithMountDashA(t *testing.T) {
	needServer(t)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	writeFile(t, filepath.Join(served, "f"), "from fstab", 0644)
	fstab := filepath.Join(t.TempDir(), "fstab")
	writeFile(t, fstab, "# the line of docs/mounting.md\nroot@127.0.0.1:"+served+" "+mnt+" fuse.sftpmount _netdev,"+fstabOptions()+",allow_other,default_permissions 0 0\n", 0644)
	unmountWithUmount(t, mnt)
	viaMountCommand(t, "-a", "-T", fstab)
	if typ := mountedType(mnt); typ != "fuse.sftpmount" {
		t.Fatalf("%s has type %q, want fuse.sftpmount", mnt, typ)
	}
	if got := readFile(t, filepath.Join(mnt, "f")); got != "from fstab" {
		t.Fatalf("read %q", got)
	}
	writeFile(t, filepath.Join(mnt, "g"), "written", 0644)
	if got := readFile(t, filepath.Join(served, "g")); got != "written" {
		t.Fatalf("server has %q", got)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	if !waitFor(5*time.Second, func() bool { return len(processesNamed("sftpmount", mnt)) == 0 }) {
		t.Fatal("the sftpmount process outlived umount")
	}
}

func TestMountDashTFuseSftpmount(t *testing.T) {
	needServer(t)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	writeFile(t, filepath.Join(served, "f"), "mount -t", 0644)
	unmountWithUmount(t, mnt)
	viaMountCommand(t, "-t", "fuse.sftpmount", "root@127.0.0.1:"+served, mnt, "-o", fstabOptions()+",ro")
	if got := readFile(t, filepath.Join(mnt, "f")); got != "mount -t" {
		t.Fatalf("read %q", got)
	}
	if err := os.WriteFile(filepath.Join(mnt, "g"), nil, 0644); err == nil {
		t.Fatal("-o ro from mount(8) was not applied")
	}
}
