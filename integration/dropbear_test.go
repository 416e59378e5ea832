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
	"sync"
	"syscall"
	"testing"
	"time"
)

// Dropbear as the server (routers, small boards): Debian's dropbear-bin,
// which runs OpenSSH's sftp-server for the sftp subsystem from the path
// compiled into it (SFTPSERVER_PATH, /usr/lib/sftp-server on Debian, a
// link to /usr/lib/openssh/sftp-server), through the user's login shell.
// It is started on first use, on loopback, with a throwaway host key, and
// serves testUser alone: Dropbear reads authorized_keys only from the
// user's own ~/.ssh, and root's is not the harness's to write.

const dropbearPath = "/usr/sbin/dropbear"

// dropbearServer is one throwaway Dropbear on a free loopback port.
type dropbearServer struct {
	dir        string
	port       int
	knownHosts string // holds exactly this server's host key
	cmd        *exec.Cmd
	log        string
}

var (
	dropbearOnce sync.Once
	dropbear     *dropbearServer
	dropbearErr  error
)

// needDropbear starts Dropbear on first use (TestMain stops it); without
// it installed the test is skipped, outside CI only.
func needDropbear(t *testing.T) *dropbearServer {
	t.Helper()
	needServer(t)
	for _, p := range []string{dropbearPath, "/usr/bin/dropbearkey", "/usr/lib/sftp-server"} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: integration/install-deps.sh installs dropbear-bin", p)
			}
			t.Skipf("SKIPPED: %s is missing (integration/install-deps.sh installs dropbear-bin)", p)
		}
	}
	dropbearOnce.Do(func() { dropbear, dropbearErr = startDropbear(filepath.Join(workDir, "dropbear")) })
	if dropbearErr != nil {
		t.Fatalf("starting dropbear: %v", dropbearErr)
	}
	return dropbear
}

func startDropbear(dir string) (*dropbearServer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d := &dropbearServer{dir: dir, log: filepath.Join(dir, "dropbear.log")}
	hostKey := filepath.Join(dir, "host_ed25519")
	if out, err := exec.Command("dropbearkey", "-t", "ed25519", "-f", hostKey).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dropbearkey: %v: %s", err, out)
	}
	out, err := exec.Command("dropbearkey", "-y", "-f", hostKey).Output()
	if err != nil {
		return nil, fmt.Errorf("dropbearkey -y: %v", err)
	}
	var hostPub string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "ssh-ed25519" {
			hostPub = f[0] + " " + f[1]
		}
	}
	if hostPub == "" {
		return nil, fmt.Errorf("dropbearkey -y printed no key: %s", out)
	}
	// The harness's user key, as testUser's own authorized_keys.
	if err := ensureTestUser(); err != nil {
		return nil, err
	}
	pub, err := os.ReadFile(server.userKey + ".pub")
	if err != nil {
		return nil, err
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		return nil, err
	}
	sshDir := filepath.Join(u.HomeDir, ".ssh")
	auth := filepath.Join(sshDir, "authorized_keys")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		return nil, err
	}
	for _, p := range []string{sshDir, auth} {
		if out, err := exec.Command("chown", testUser+":", p).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown: %v: %s", err, out)
		}
	}
	if d.port, err = freePort(); err != nil {
		return nil, err
	}
	d.knownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(d.knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", d.port, hostPub)), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(d.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// -F foreground, -E log to stderr, -s no passwords, -w no root.
	d.cmd = exec.Command(dropbearPath, "-F", "-E", "-s", "-w", "-p", "127.0.0.1:"+strconv.Itoa(d.port), "-r", hostKey, "-P", filepath.Join(dir, "dropbear.pid"))
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitForBanner(d.port, 10*time.Second); err != nil {
		d.stop()
		logText, _ := os.ReadFile(d.log)
		return nil, fmt.Errorf("%v; dropbear log: %s", err, logText)
	}
	return d, nil
}

// stop ends Dropbear and every session it serves.
func (d *dropbearServer) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	for _, pid := range append(descendants(d.cmd.Process.Pid), d.cmd.Process.Pid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	d.cmd.Wait()
}

func stopDropbear() {
	if dropbear != nil {
		dropbear.stop()
	}
}

// mountDropbear mounts a fresh directory of testUser's through Dropbear,
// with extra options.
func mountDropbear(t *testing.T, extra ...string) *mounted {
	t.Helper()
	d := needDropbear(t)
	m := &mounted{remote: newServedDir(t, testUser), mnt: newMountpoint(t)}
	args := append([]string{testUser + "@127.0.0.1:" + m.remote, m.mnt, "-p", strconv.Itoa(d.port),
		"-o", "IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + d.knownHosts + ",StrictHostKeyChecking=yes"}, extra...)
	r := runBinary(t, []string{"HOME=" + isolatedHome(t)}, args...)
	if r.code != 0 {
		logText, _ := os.ReadFile(d.log)
		t.Fatalf("sftpmount through dropbear exited %d: %s\ndropbear log: %s", r.code, r.stderr, logText)
	}
	cleanupMount(t, m.mnt)
	if !isMounted(m.mnt) {
		t.Fatalf("sftpmount exited 0 but %s is not mounted", m.mnt)
	}
	return m
}
