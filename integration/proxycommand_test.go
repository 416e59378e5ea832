//go:build linux

package integration

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proxyChild is this test binary run as a ProxyCommand, as `nc HOST PORT`
// would be, but reaching 127.0.0.1 whatever HOST is (so the mount could
// not have connected by itself): it records its pid and arguments in
// record, then carries stdin and stdout to the server.
func proxyChild(record string, args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "proxy: want HOST PORT")
		return 2
	}
	f, err := os.OpenFile(record, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0644)
	if err != nil {
		return 1
	}
	fmt.Fprintf(f, "%d %s\n", os.Getpid(), strings.Join(args, " "))
	f.Close()
	if fds := os.Getenv("SFTPMOUNT_PROXY_FDS"); fds != "" {
		recordDescriptors(fds)
	}
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", args[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "proxy: connected to", args[0])
	go func() { io.Copy(conn, os.Stdin); conn.Close() }()
	io.Copy(os.Stdout, conn)
	return 0
}

// proxyRuns reads the record: one pid and argument line per run.
func proxyRuns(t *testing.T, record string) (pids []int, args []string) {
	data, _ := os.ReadFile(record)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		pid, rest, ok := strings.Cut(line, " ")
		if n, err := strconv.Atoi(pid); ok && err == nil {
			pids, args = append(pids, n), append(args, rest)
		}
	}
	return pids, args
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// A host reachable only through its ProxyCommand: the command runs (with
// %h and %p expanded), carries the connection, runs again for the second
// connection and after sshd restarts, and no run of it outlives the
// mount.
func TestProxyCommandCarriesTheConnectionAndEndsWithTheMount(t *testing.T) {
	needServer(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	record := filepath.Join(dir, "runs")
	known := filepath.Join(dir, "known_hosts")
	writeFile(t, known, fmt.Sprintf("[behind-the-proxy.invalid]:%d %s\n", server.port, server.hostKeyPub), 0644)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	config := filepath.Join(dir, "config")
	writeFile(t, config, fmt.Sprintf(`Host proxied
    HostName behind-the-proxy.invalid
    Port %d
    User root
    IdentityFile %s
    UserKnownHostsFile %s
    ProxyCommand env SFTPMOUNT_PROXY_CHILD=%s %s %%h %%p
`, server.port, server.userKey, known, record, self), 0644)
	r := runBinary(t, []string{"HOME=" + isolatedHome(t)}, "proxied:"+m.remote, m.mnt, "-F", config, "-o", "max_conns=2")
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	if !strings.Contains(r.stderr, "ProxyCommand: proxy: connected to behind-the-proxy.invalid") {
		t.Errorf("the command's stderr did not reach ours while mounting: %q", r.stderr)
	}
	writeFile(t, filepath.Join(m.mnt, "f"), "through the proxy", 0644)
	if got := readFile(t, filepath.Join(m.remote, "f")); got != "through the proxy" {
		t.Fatalf("server has %q", got)
	}
	// The second connection (for large files) runs it too.
	var pids []int
	var args []string
	waitFor(10*time.Second, func() bool { pids, args = proxyRuns(t, record); return len(pids) >= 2 })
	if len(pids) != 2 {
		t.Fatalf("the ProxyCommand ran %d times, want 2 (the connection and the one for large files): %q", len(pids), args)
	}
	for _, a := range args {
		if a != "behind-the-proxy.invalid "+strconv.Itoa(server.port) {
			t.Fatalf("ran with %q, want %%h %%p expanded", a)
		}
	}

	// sshd restarts: every connection is lost, and the command runs again.
	if err := server.restart(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(m.mnt, "f")); got != "through the proxy" {
		t.Fatalf("after sshd restarted, read %q", got)
	}
	waitFor(10*time.Second, func() bool { pids, _ = proxyRuns(t, record); return len(pids) >= 3 })
	if len(pids) < 3 {
		t.Fatalf("after sshd restarted the ProxyCommand ran %d times in all, want it run again", len(pids))
	}
	for _, pid := range pids[:2] {
		if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("run %d of the ProxyCommand outlived its lost connection", pid)
		}
	}

	if out, err := exec.Command("fusermount3", "-u", m.mnt).CombinedOutput(); err != nil {
		t.Fatalf("unmount: %v %s", err, out)
	}
	pids, _ = proxyRuns(t, record)
	for _, pid := range pids {
		if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("ProxyCommand process %d still runs after the unmount", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// A command that fails at once, or never speaks: one line that names it
// and says what happened, a non-zero exit, and no process left behind.
func TestAProxyCommandThatFailsOrNeverSpeaksIsReported(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name, command string
		words         []string
	}{
		// ssh runs "exec COMMAND": a list needs a shell of its own.
		{"exits at once", "sh -c 'echo no route to the bastion >&2; exit 3'", []string{"ProxyCommand", "exited with status 3", "no route to the bastion"}},
		{"never speaks", "sh -c 'echo $$ > " + filepath.Join(dir, "silent.pid") + "; exec sleep 600'", []string{"no answer within 2s", "ConnectTimeout"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			mnt := newMountpoint(t)
			start := time.Now()
			r := runBinary(t, []string{"HOME=" + isolatedHome(t)}, append([]string{remoteSpec("/tmp"), mnt, "-o", "ConnectTimeout=2", "-o", "ProxyCommand=" + c.command}, standardArgs()...)...)
			if r.code != 4 {
				t.Fatalf("exit %d, want 4 (connect): %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			for _, w := range c.words {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if strings.Count(last, "sftpmount:") != 1 {
				t.Errorf("the refusal is not one line: %q", last)
			}
			if took := time.Since(start); took > 8*time.Second {
				t.Errorf("took %v", took)
			}
			if isMounted(mnt) {
				t.Error("mounted anyway")
			}
		})
	}
	if data, err := os.ReadFile(filepath.Join(dir, "silent.pid")); err == nil {
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid > 0 && !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("the silent ProxyCommand (pid %d) outlived the failed mount", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	} else {
		t.Errorf("the silent command never ran: %v", err)
	}
}
