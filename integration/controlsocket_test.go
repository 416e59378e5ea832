//go:build linux

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The control socket (sftpmount status and sync) answers only the user
// whose mount it is (and root), whatever the umask, and another user's
// directory where it is looked for turns neither off.

// controlMount mounts as root in the foreground with tmp as TMPDIR (the
// control socket's directory is made there, not in the shared /tmp) and
// umask 000; it gives the mount and its stderr.
func controlMount(t *testing.T, tmp string) (*exec.Cmd, *lockedBuffer, *mounted) {
	t.Helper()
	needServer(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	args := append([]string{"-c", `umask 000 && exec "$0" "$@"`, binary, remoteSpec(m.remote), m.mnt, "-f"}, standardArgs()...)
	cmd := exec.Command("sh", args...)
	cmd.Env = append(append(baseEnv(), "TMPDIR="+tmp), home(t)...)
	return cmd, serveInForeground(t, cmd, m.mnt), m
}

var dialerOnce struct {
	sync.Once
	path string
	err  error
}

// dialAs connects to the unix socket sock as testUser, sends request and
// gives what came back, or why nothing did (this test binary again, as
// SFTPMOUNT_DIAL_CHILD, copied where testUser may run it).
func dialAs(t *testing.T, sock, request string) string {
	t.Helper()
	dialerOnce.Do(func() {
		dialerOnce.path = filepath.Join(workDir, "dialer")
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.WriteFile(dialerOnce.path, b, 0o755)
		}
		dialerOnce.err = err
	})
	if dialerOnce.err != nil {
		t.Fatal(dialerOnce.err)
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(dialerOnce.path)
	cmd.Env = []string{"SFTPMOUNT_DIAL_CHILD=" + sock + "|" + request}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// dialChild is the child's side of dialAs.
func dialChild(args string) int {
	sock, request, _ := strings.Cut(args, "|")
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Println("dial:", err)
		return 0
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c, request)
	b, _ := io.ReadAll(bufio.NewReader(c)) // the refusal may end in a reset
	fmt.Printf("answer: %q\n", b)
	return 0
}

// controlSocketIn waits for the one socket under dir.
func controlSocketIn(t *testing.T, dir string) string {
	t.Helper()
	var socks []string
	waitFor(5*time.Second, func() bool {
		socks, _ = filepath.Glob(filepath.Join(dir, "*", "*.sock"))
		return len(socks) == 1
	})
	if len(socks) != 1 {
		t.Fatalf("control sockets under %s: %v", dir, socks)
	}
	return socks[0]
}

// Root's mount, started with umask 000 where its socket's directory
// already exists (mode 0755): the socket is 0600 and its directory 0700,
// so another user reaches neither; and when the test opens both to
// everyone, the mount still answers that user nothing (its uid, from
// the socket, is not root's). Root's own status answers.
func TestTheControlSocketAnswersOnlyItsOwnUser(t *testing.T) {
	tmp := sharedDir(t)
	ctl := filepath.Join(tmp, "sftpmount-0")
	if err := os.Mkdir(ctl, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(ctl, 0o755)
	_, log, m := controlMount(t, tmp)
	sock := controlSocketIn(t, tmp)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the socket: %v %v, want mode 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Dir(sock)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("its directory: %v %v, want mode 0700", fi.Mode(), err)
	}
	if got := dialAs(t, sock, "sync"); !strings.Contains(got, "permission denied") {
		t.Errorf("%s's sync on root's socket: %s", testUser, got)
	}
	os.Chmod(filepath.Dir(sock), 0o755)
	os.Chmod(sock, 0o666)
	for _, req := range []string{"status", "sync"} {
		if got := dialAs(t, sock, req); !strings.HasPrefix(got, `answer: "failed: uid `) || strings.Contains(got, "ok") || strings.Contains(got, "connection") {
			t.Errorf("%s's %s on root's socket, opened to all: %s", testUser, req, got)
		}
	}
	os.Chmod(filepath.Dir(sock), 0o700)
	env := append([]string{"TMPDIR=" + tmp}, home(t)...)
	if r := runBinary(t, env, "status", m.mnt); r.code != 0 || !strings.Contains(r.stdout, "connection: connected") || !strings.Contains(r.stdout, "transport: ssh: sftpmount's own, to root@127.0.0.1:") {
		t.Errorf("root's status: exit %d: %s%s\n%s", r.code, r.stdout, r.stderr, log.String())
	}
}

// Another user made root's socket directory first (as anyone may in
// /tmp): the mount says so in one line and answers from a directory of
// its own, where status and sync find it; the other user's directory is
// left as it was.
func TestAnotherUsersControlDirectoryInTheWayIsRefusedAndStatusStillAnswers(t *testing.T) {
	tmp := sharedDir(t)
	ctl := filepath.Join(tmp, "sftpmount-0")
	asOtherUser(t, tmp, "mkdir -m 0777 sftpmount-0 && : > sftpmount-0/planted")
	before := snapshot(t, ctl)
	cmd, log, m := controlMount(t, tmp)
	env := append([]string{"TMPDIR=" + tmp}, home(t)...)
	for _, req := range []string{"status", "sync"} {
		if r := runBinary(t, env, req, m.mnt); r.code != 0 {
			t.Errorf("%s: exit %d: %s%s\n%s", req, r.code, r.stdout, r.stderr, log.String())
		}
	}
	lines := 0
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, ctl) {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d lines name %s, want 1:\n%s", lines, ctl, log.String())
	}
	if after := snapshot(t, ctl); after != before {
		t.Errorf("the other user's directory changed:\n%s\nwas\n%s", after, before)
	}
	if code := endOf(t, cmd, m.mnt, time.Minute); code != 0 {
		t.Errorf("exit %d: %s", code, log.String())
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "sftpmount-0.*")); len(left) != 0 {
		t.Errorf("the mount's own directory outlived it: %v", left)
	}
}
