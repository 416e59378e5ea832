//go:build linux

package integration

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote/remotetest"
)

// pkg/sftp's own server: it names hardlink, posix-rename and statvfs and
// none of OpenSSH's other extensions. As it is, it is testdata/pkgsftpd
// over -o directport; "bare", naming no extension at all as a managed
// service's server may, it runs on the test sshd by -o sftp_server in
// place of OpenSSH's, served by the test binary itself
// (SFTPMOUNT_PKGSFTP_CHILD) copied where testUser can run it.

// pkgSFTPChild serves pkg/sftp's server (remote/remotetest's) on stdin
// and stdout, in the login directory; mode "bare" names no extension.
func pkgSFTPChild(mode string) int {
	dir, _ := os.Getwd()
	srv := remotetest.Serve(dir)
	if mode == "bare" {
		srv = remotetest.ServeWith(dir, remotetest.Quirks{Without: []string{"*"}})
	}
	defer srv.Close()
	rw, err := srv.Open(context.Background())
	if err != nil {
		return 1
	}
	go func() {
		// The client is gone once stdin ends: nothing more to answer.
		// (Waiting for the server's side to end as well left servers
		// running after their sshd session, now and then.)
		io.Copy(rw, os.Stdin)
		os.Exit(0)
	}()
	io.Copy(os.Stdout, rw)
	return 0
}

var (
	pkgSFTPOnce   sync.Once
	pkgSFTPBinary string
	pkgSFTPErr    error
)

// pkgSFTPServer is a command for -o sftp_server that runs pkg/sftp's
// server in mode.
func pkgSFTPServer(t *testing.T, mode string) string {
	t.Helper()
	pkgSFTPOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			pkgSFTPErr = err
			return
		}
		pkgSFTPBinary = filepath.Join(workDir, "pkgsftp-server")
		if out, err := exec.Command("cp", self, pkgSFTPBinary).CombinedOutput(); err != nil {
			pkgSFTPErr = errors.New(string(out))
		}
		os.Chmod(pkgSFTPBinary, 0o755)
	})
	if pkgSFTPErr != nil {
		t.Fatal(pkgSFTPErr)
	}
	wrapper := filepath.Join(workDir, "pkgsftp-"+mode)
	writeFile(t, wrapper, "#!/bin/sh\nSFTPMOUNT_PKGSFTP_CHILD="+mode+" exec "+pkgSFTPBinary+"\n", 0o755)
	return wrapper
}

// serversLeft lists the pkg/sftp servers (pkgSFTPServer's) running.
func serversLeft() []int {
	var pids []int
	eachProcess("cmdline", func(pid int, cmdline []byte) {
		if strings.Split(string(cmdline), "\x00")[0] == pkgSFTPBinary {
			pids = append(pids, pid)
		}
	})
	return pids
}

// A server without a single extension: each missing one is a line of the
// -d log and of `sftpmount status`, once; a user's calls work by the
// fallbacks or fail as a filesystem without that feature does, never
// with EIO.
func TestAServerWithoutExtensionsSaysWhatItLacksAndFallsBack(t *testing.T) {
	needServer(t)
	m := &mounted{remote: newServedDir(t, testUser), mnt: newMountpoint(t)}
	args := append([]string{testUser + "@127.0.0.1:" + m.remote, m.mnt, "-f", "-d", "-o", "sftp_server=" + pkgSFTPServer(t, "bare")}, standardArgs()...)
	t.Cleanup(func() { // after the unmount (cleanups run last first)
		if !waitFor(5*time.Second, func() bool { return len(serversLeft()) == 0 }) {
			t.Errorf("pkg/sftp servers still running 5 s after the unmount: %v", serversLeft())
			for _, pid := range serversLeft() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(), home(t)...)
	stderr := serveInForeground(t, cmd, m.mnt)

	sh(t, m.mnt, "echo new > a && echo old > b && mv a b && echo more >> b && python3 -c \"import os; fd=os.open('b', os.O_RDWR); os.fsync(fd)\" && df -P . >/dev/null && chmod 600 b && ln -s b sym")
	if got := readFile(t, filepath.Join(m.remote, "b")); got != "new\nmore\n" {
		t.Errorf("b on the server: %q", got)
	}
	if err := os.Link(filepath.Join(m.mnt, "b"), filepath.Join(m.mnt, "c")); !errors.Is(err, syscall.EPERM) {
		t.Errorf("ln: %v, want EPERM", err)
	}
	if err := os.Rename(filepath.Join(m.mnt, "b"), filepath.Join(m.mnt, "sym")); err != nil {
		t.Errorf("rename over a symlink: %v", err)
	}
	status := runBinary(t, nil, "status", m.mnt)
	if status.code != 0 {
		t.Fatalf("status: exit %d: %s", status.code, status.stderr)
	}
	log := stderr.String()
	for _, x := range []string{"posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com", "hardlink@openssh.com",
		"fsync@openssh.com", "lsetstat@openssh.com", "limits@openssh.com", "copy-data"} {
		if n := strings.Count(log, "server lacks "+x+": "); n != 1 {
			t.Errorf("the -d log names %s %d times", x, n)
		}
		if n := strings.Count(status.stdout, "server lacks "+x+": "); n != 1 {
			t.Errorf("status names %s %d times: %s", x, n, status.stdout)
		}
	}
	if strings.Contains(log, "input/output error") {
		t.Errorf("an EIO in the -d log:\n%s", log)
	}
}

// pkg/sftp's server as it is (testdata/pkgsftpd, over -o directport):
// the mount names fsync and OpenSSH's other extensions as lacking, and
// nothing of what it has; the round trips and fsx pass.
func TestPkgSFTPsServerRoundTrips(t *testing.T) {
	m := mountPkgsftpd(t)
	sh(t, m.mnt, "echo new > a && echo old > b && mv a b && ln b hard && mkdir -p d/e && printf 0123456789 > f && truncate -s 4 f && chmod 600 f && ln -s f sym && python3 -c \"import os; fd=os.open('f', os.O_RDWR); os.fsync(fd)\" && df -P . >/dev/null")
	if got := readFile(t, filepath.Join(m.remote, "b")) + readFile(t, filepath.Join(m.remote, "hard")) + readFile(t, filepath.Join(m.remote, "f")); got != "new\nnew\n0123" {
		t.Errorf("the server has %q", got)
	}
	if fi, err := os.Stat(filepath.Join(m.remote, "f")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("f's mode on the server: %v, %v", fi, err)
	}
	if fi, err := os.Lstat(filepath.Join(m.remote, "sym")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("sym on the server: %v, %v", fi, err)
	}
	status := runBinary(t, home(t), "status", m.mnt).stdout
	if !strings.Contains(status, "server lacks fsync@openssh.com: ") || strings.Contains(status, "lacks posix-rename") || strings.Contains(status, "lacks hardlink") {
		t.Errorf("status: %s", status)
	}
	runFsx(t, fsxOn(m, 21, fsxOps(1000)))
}

// mountPkgsftpd mounts a fresh directory served by testdata/pkgsftpd
// over -o directport.
func mountPkgsftpd(t *testing.T, extra ...string) *mounted {
	t.Helper()
	needServer(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	srv := startPkgsftpd(t, m.remote)
	args := append([]string{"127.0.0.1:" + m.remote, m.mnt, "-o", "directport=" + strconv.Itoa(srv.port())}, extra...)
	if r := runBinary(t, home(t), args...); r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	return m
}

// go-fuse's POSIX checks on pkg/sftp's server (over -o directport).
func TestGoFusePosixSuiteOnPkgSFTPsServer(t *testing.T) {
	m := mountPkgsftpd(t, "-o", "no_contain_symlinks")
	expected := maps.Clone(posixtestExpectedToFail)
	expected["SetattrSymlink"] = "no lsetstat@openssh.com: a symlink's own times cannot be set without changing its target's; lutimes gets ENOTSUP"
	runPosixSuite(t, m, expected)
}
