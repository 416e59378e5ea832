//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What the mount starts gets only what it needs: a ProxyCommand started
// by the background process, on a terminal, holds no descriptor but its
// stdin, stdout and stderr (not the status pipe, which would keep the
// command waiting; not the terminal, where a password is typed) and no
// SFTPMOUNT_DAEMON_* variable.
func TestProxyCommandGetsNeitherTheStatusPipeNorTheTerminalNorDaemonVariables(t *testing.T) {
	needServer(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fds, env := filepath.Join(dir, "fds"), filepath.Join(dir, "env")
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	config := filepath.Join(dir, "config")
	writeFile(t, config, fmt.Sprintf(`Host proxied
    HostName 127.0.0.1
    Port %d
    User root
    IdentityFile %s
    UserKnownHostsFile %s
    ProxyCommand /bin/sh -c 'env > %s; exec env SFTPMOUNT_PROXY_FDS=%s SFTPMOUNT_PROXY_CHILD=%s %s %%h %%p'
`, server.port, server.userKey, server.knownHosts, env, fds, filepath.Join(dir, "runs"), self), 0644)
	tm := startOnTerminal(t, []string{"HOME=" + isolatedHome(t)}, "proxied:"+m.remote, m.mnt, "-F", config)
	if code := tm.exit(t); code != 0 {
		t.Fatalf("sftpmount exited %d: %s", code, tm.out.String())
	}
	cleanupMount(t, m.mnt)
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, fds)), "\n") {
		fd, target, _ := strings.Cut(line, " ")
		if n, _ := strconv.Atoi(fd); n > 2 && (strings.HasPrefix(target, "pipe:") || strings.HasPrefix(target, "/dev/pts") || target == "/dev/tty" || target == "/dev/ptmx") {
			t.Errorf("the ProxyCommand holds fd %s: %s", fd, target)
		}
	}
	if e := readFile(t, env); strings.Contains(e, "SFTPMOUNT_DAEMON") {
		t.Errorf("the ProxyCommand's environment holds the daemon's variables: %q", e)
	}
}

// recordDescriptors writes the proxy child's descriptors, one "FD TARGET"
// a line, to file.
func recordDescriptors(file string) {
	entries, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s %s\n", e.Name(), target)
	}
	os.WriteFile(file, []byte(b.String()), 0644)
}

// password_stdin's password is for the host mounted: a jump host that
// asks for a password (it may be anyone's) is not handed it.
func TestPasswordFromStdinIsNotOfferedToAJumpHost(t *testing.T) {
	a := needAuthServer(t)
	env, _ := homeWithConfig(t, mainServerBlock("target")+fmt.Sprintf("    ProxyJump %s@127.0.0.1:%d\nHost 127.0.0.1\n    UserKnownHostsFile KNOWN\n", passwordUser, a.port))
	logins := func() int {
		return strings.Count(readFile(t, a.log), "Accepted keyboard-interactive/pam for "+passwordUser) + strings.Count(readFile(t, a.log), "Accepted password for "+passwordUser)
	}
	before := logins()
	mnt := newMountpoint(t)
	r := runBinaryWithInput(t, env, a.password+"\n", "target:/tmp", mnt, "-o", "password_stdin")
	if r.code == 0 {
		cleanupMount(t, mnt)
	}
	// sshd may write its log line a moment after the login.
	waitFor(2*time.Second, func() bool { return logins() != before })
	if after := logins(); after != before {
		t.Errorf("the jump host was given the password (%d logins with it)", after-before)
	}
	if r.code != 6 || !strings.Contains(r.stderr, strconv.Itoa(a.port)) {
		t.Errorf("exit %d, want 6 naming the jump host: %q", r.code, r.stderr)
	}
}

// The mount process holds passwords and keys: it is not dumpable, so no
// core dump has them and no other process of the same user may ptrace it
// or read its memory. The kernel shows that by giving its /proc files to
// root. Run as the unprivileged test user, held at its start by a
// password it is still reading.
func TestTheMountProcessIsNotDumpable(t *testing.T) {
	needServer(t)
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat("/dev/fuse"); err == nil && fi.Mode().Perm()&0006 != 0006 {
		os.Chmod("/dev/fuse", 0666)
		t.Cleanup(func() { os.Chmod("/dev/fuse", fi.Mode().Perm()) })
	}
	mnt, err := os.MkdirTemp(u.HomeDir, "sftpmount-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(mnt) })
	chownTo(t, mnt, testUser)
	cmd := asUserIn(mnt, u.HomeDir, binary, "h:", mnt, "-f", "-o", "password_stdin")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var pid int
	if !waitFor(10*time.Second, func() bool { p := processesServing(mnt); pid = firstOf(p); return pid != 0 }) {
		t.Fatal("the mount process did not start")
	}
	time.Sleep(200 * time.Millisecond) // past its first lines
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/environ", pid), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 0 {
		t.Errorf("/proc/%d is the user's (uid %d): the process is dumpable", pid, st.Uid)
	}
}

func firstOf(pids []int) int {
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}
