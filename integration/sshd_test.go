//go:build linux

package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	sshdPath = "/usr/sbin/sshd"
	// sftpSubsystem is served inside sshd rather than as sftp-server run
	// through root's login shell: the machines tests run on start pyenv
	// from ~/.bashrc, whose rehash lock, left behind when a test kills
	// sshd with its sessions mid-start, stalls every later shell for a
	// minute. Same OpenSSH server code, no shell.
	sftpSubsystem = "internal-sftp"
	// testUser is an unprivileged account the harness creates, so that
	// EACCES and EPERM come from the real server, not from us.
	testUser = "sftpmount-it"
)

// sshServer is a throwaway OpenSSH server on a free loopback port, with
// its own host key, user key and known_hosts file.
type sshServer struct {
	dir        string
	port       int
	userKey    string // private key accepted for root and testUser
	knownHosts string // holds exactly this server's host key
	hostKeyPub string
	cmd        *exec.Cmd
	config     string
	log        string
}

func startSSHD(dir string) (*sshServer, error) {
	return startSSHDWith(dir, nil)
}

// startSSHDWith lets prepare add sshd_config lines (they come first, and
// sshd takes the first value it reads; a Subsystem line replaces ours)
// once the server's keys exist.
func startSSHDWith(dir string, prepare func(*sshServer) (string, error)) (*sshServer, error) {
	if err := os.MkdirAll(dir, 0755); err != nil {
		return nil, err
	}
	s := &sshServer{dir: dir, userKey: filepath.Join(dir, "id_ed25519"), log: filepath.Join(dir, "sshd.log")}
	hostKey := s.hostKey()
	for _, k := range []string{hostKey, s.userKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sftpmount-test", "-f", k).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(s.userKey + ".pub")
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, pub, 0644); err != nil {
		return nil, err
	}
	if err := ensureTestUser(); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.port = port
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	s.hostKeyPub = strings.TrimSpace(string(hostPub))
	s.knownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.knownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", port, s.hostKeyPub)), 0644); err != nil {
		return nil, err
	}
	extra := ""
	if prepare != nil {
		if extra, err = prepare(s); err != nil {
			return nil, err
		}
	}
	if !strings.Contains(extra, "Subsystem sftp ") { // sshd refuses a second one
		extra += "Subsystem sftp " + sftpSubsystem + "\n"
	}
	config := filepath.Join(dir, "sshd_config")
	err = os.WriteFile(config, []byte(extra+fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers root %s
`, port, hostKey, authorized, filepath.Join(dir, "sshd.pid"), testUser)), 0644)
	if err != nil {
		return nil, err
	}
	os.MkdirAll("/run/sshd", 0755) // privilege separation directory
	s.config = config
	if err := s.start(); err != nil {
		s.stop()
		logText, _ := os.ReadFile(s.log)
		return nil, fmt.Errorf("%v; sshd log: %s", err, logText)
	}
	return s, nil
}

func (s *sshServer) hostKey() string { return filepath.Join(s.dir, "host_ed25519") }

// start runs the listener and waits until it answers.
func (s *sshServer) start() error {
	s.cmd = exec.Command(sshdPath, "-D", "-e", "-f", s.config, "-E", s.log)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	return waitForBanner(s.port, 10*time.Second)
}

// restart kills sshd and every session it serves, as a crash or a reboot
// of the server does, and starts it again on the same port.
func (s *sshServer) restart() error {
	s.signal(syscall.SIGKILL)
	s.cmd.Wait()
	return s.start()
}

// signal sends sig to sshd and all its session processes. Session
// processes call setsid, so they are found by parentage, not by group.
func (s *sshServer) signal(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	for _, pid := range append([]int{s.cmd.Process.Pid}, descendants(s.cmd.Process.Pid)...) {
		syscall.Kill(pid, sig)
	}
}

// descendants lists every process below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	eachProcess("stat", func(p int, stat []byte) {
		// Fields after the parenthesised command: state, ppid, ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				children[ppid] = append(children[ppid], p)
			}
		}
	})
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func (s *sshServer) stop() {
	s.signal(syscall.SIGCONT)
	s.signal(syscall.SIGKILL)
	s.cmd.Wait()
}

// ensureTestUser creates the unprivileged account once per machine. Its
// password field is "*" (no password, but not "!" locked, which sshd
// refuses without PAM).
func ensureTestUser() error {
	if exec.Command("id", testUser).Run() == nil {
		return nil
	}
	if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", testUser).CombinedOutput(); err != nil {
		return fmt.Errorf("useradd: %v: %s", err, out)
	}
	if out, err := exec.Command("usermod", "-p", "*", testUser).CombinedOutput(); err != nil {
		return fmt.Errorf("usermod: %v: %s", err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitForBanner(port int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "SSH-") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sshd did not answer on port %d within %v", port, limit)
}
