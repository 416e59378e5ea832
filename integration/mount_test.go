//go:build linux

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// mounted is one live sftpmount mount for one test.
type mounted struct {
	mnt    string // the mountpoint
	remote string // the directory sshd serves, read directly on this machine
}

var dirSeq atomic.Int64

// newServedDir makes a fresh directory for sshd to serve, owned by owner.
func newServedDir(t *testing.T, owner string) string {
	t.Helper()
	dir := filepath.Join(workDir, fmt.Sprintf("served-%d", dirSeq.Add(1)))
	if err := os.Mkdir(dir, 0755); err != nil {
		t.Fatal(err)
	}
	if owner != "root" {
		chownTo(t, dir, owner)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func chownTo(t *testing.T, path, owner string) {
	t.Helper()
	u, err := user.Lookup(owner)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// newMountpoint makes an empty directory to mount on.
func newMountpoint(t *testing.T) string {
	t.Helper()
	mnt := filepath.Join(workDir, fmt.Sprintf("mnt-%d", dirSeq.Add(1)))
	if err := os.Mkdir(mnt, 0755); err != nil {
		t.Fatal(err)
	}
	mountPointsOf.Store(mnt, t.Name())
	t.Cleanup(func() { os.Remove(mnt); mountPointsOf.Delete(mnt) })
	return mnt
}

// isolatedHome is an empty HOME with no ssh files, so a test sees only the
// keys and known_hosts it passes on purpose.
func isolatedHome(t *testing.T) string {
	t.Helper()
	home := filepath.Join(workDir, fmt.Sprintf("home-%d", dirSeq.Add(1)))
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	return home
}

// result of one run of the binary.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// runBinary runs sftpmount with env added to a clean environment (no
// SSH_AUTH_SOCK unless given) and a bound on its run time.
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runBinaryWithInput(t, env, "", args...)
}

// runBinaryWithInput also feeds stdin, and runs sftpmount in a session of
// its own, without a controlling terminal, as a script or cron job would.
func runBinaryWithInput(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	return runProgram(t, env, stdin, append([]string{binary}, args...)...)
}

// runProgram runs any command line (sftpmount under a wrapper) that way.
func runProgram(t *testing.T, env []string, stdin string, cmdline ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else {
			t.Fatalf("running sftpmount: %v", err)
		}
	}
	return r
}

// standardArgs are the options every test mount needs: the harness's key
// and known_hosts and the server's port.
func standardArgs() []string {
	return []string{"-p", strconv.Itoa(server.port), "-o", "IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + server.knownHosts}
}

// mount mounts a fresh served directory as root, with extra options.
func mount(t *testing.T, extra ...string) *mounted {
	t.Helper()
	return mountAs(t, "root", extra...)
}

// mountAs mounts a fresh directory served to the given remote user.
func mountAs(t *testing.T, remoteUser string, extra ...string) *mounted {
	t.Helper()
	needServer(t)
	m := &mounted{remote: newServedDir(t, remoteUser), mnt: newMountpoint(t)}
	args := append([]string{remoteUser + "@127.0.0.1:" + m.remote, m.mnt}, standardArgs()...)
	args = append(args, extra...)
	r := runBinary(t, []string{"HOME=" + isolatedHome(t)}, args...)
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	if !isMounted(m.mnt) {
		t.Fatalf("sftpmount exited 0 but %s is not mounted", m.mnt)
	}
	return m
}

// cleanupMount unmounts at the end of the test, even a failed one, and
// makes sure no sftpmount process is left serving it.
func cleanupMount(t *testing.T, mnt string) {
	t.Cleanup(func() {
		if isMounted(mnt) {
			if exec.Command("fusermount3", "-u", mnt).Run() != nil {
				exec.Command("fusermount3", "-u", "-z", mnt).Run()
			}
		}
		if !waitFor(5*time.Second, func() bool { return len(processesServing(mnt)) == 0 }) {
			for _, pid := range processesServing(mnt) {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
	})
}

// isMounted reports whether path is a mountpoint right now.
func isMounted(path string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// processesServing finds sftpmount processes whose argv names mnt.
func processesServing(mnt string) []int {
	var pids []int
	eachProcess("cmdline", func(pid int, cmdline []byte) {
		args := strings.Split(string(cmdline), "\x00")
		if args[0] != binary {
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

// eachProcess calls fn with every process's /proc/PID/<file>.
func eachProcess(file string, fn func(pid int, content []byte)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if content, err := os.ReadFile(filepath.Join("/proc", e.Name(), file)); err == nil {
			fn(pid, content)
		}
	}
}

func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// sh runs a bash script in dir and fails the test if it fails.
func sh(t *testing.T, dir, script string) string {
	t.Helper()
	out, err := shErr(dir, script)
	if err != nil {
		t.Fatalf("%s\nfailed: %v\n%s", script, err, out)
	}
	return out
}

func shErr(dir, script string) (string, error) {
	return shErrWithin(dir, script, 120*time.Second)
}

// shErrWithin is shErr with a bound of its own, for long benchmarks.
func shErrWithin(dir, script string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	// bash changes into dir itself: a child that does so before its exec
	// (cmd.Dir) and meets a mount that hangs can never be ended, nor its
	// parent's Start return.
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", "cd \"$SFTPMOUNT_SH_DIR\"\n"+script)
	boundedCommand(cmd)
	if dir == "" {
		dir = "."
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "SFTPMOUNT_SH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out) + "\n" + stuckMounts(time.Minute), fmt.Errorf("not done within %v: %w", limit, err)
	}
	return string(out), err
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// randomFile writes size pseudo-random bytes (fixed seed per name).
func randomFile(t *testing.T, path string, size int64) {
	t.Helper()
	sh(t, "/", fmt.Sprintf("head -c %d /dev/urandom > %q", size, path))
}
