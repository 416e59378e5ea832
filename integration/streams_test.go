//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sshfs's transports without our SSH (docs/transports.md): -o
// ssh_command with OpenSSH's ssh, directly and through a ControlMaster;
// -o directport against pkg/sftp's server; -o passive with OpenSSH's
// sftp-server on a pipe. Each with its link cut under it, and each
// checked on the server's directory.

// sshWrapper is a -o ssh_command that records each run's pid in runs,
// then becomes OpenSSH's ssh with the arguments sftpmount gave.
func sshWrapper(t *testing.T) (wrapper, runs string) {
	t.Helper()
	dir := t.TempDir()
	runs = filepath.Join(dir, "runs")
	writeFile(t, runs, "", 0644)
	wrapper = filepath.Join(dir, "ssh-wrapper")
	writeFile(t, wrapper, "#!/bin/sh\necho $$ >> "+runs+"\necho 'the wrapper runs ssh' >&2\nexec ssh -oBatchMode=yes \"$@\"\n", 0755)
	return wrapper, runs
}

func pidsIn(t *testing.T, file string) []int {
	var pids []int
	for _, f := range strings.Fields(readFile(t, file)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

func TestSSHCommandWithOpenSSHMountsAndRunsAgainWhenKilled(t *testing.T) {
	needServer(t)
	wrapper, runs := sshWrapper(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	r := runBinary(t, home(t), append([]string{remoteSpec(m.remote), m.mnt, "-o", "ssh_command=" + wrapper}, standardArgs()...)...)
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	if n := len(pidsIn(t, runs)); n < 1 {
		t.Fatalf("the command ran %d times", n)
	}
	// What the command says while the mount starts reaches the user.
	if !strings.Contains(r.stderr, "sftpmount: ssh_command: the wrapper runs ssh\n") {
		t.Errorf("stderr %q, want the command's own line", r.stderr)
	}
	if st := runBinary(t, home(t), "status", m.mnt); st.code != 0 || !strings.Contains(st.stdout, "transport: ssh_command: "+wrapper+" -x -a -oClearAllForwardings=yes ") {
		t.Errorf("status: exit %d: %s%s", st.code, st.stdout, st.stderr)
	}
	writeFile(t, filepath.Join(m.mnt, "first"), "over openssh\n", 0604)
	if got := readFile(t, filepath.Join(m.remote, "first")); got != "over openssh\n" {
		t.Fatalf("server has %q", got)
	}
	if fi, err := os.Stat(filepath.Join(m.remote, "first")); err != nil || fi.Mode().Perm() != 0604 {
		t.Fatalf("server's mode: %v %v", fi, err)
	}
	before := len(pidsIn(t, runs))
	for _, pid := range pidsIn(t, runs) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	// The next call finds the session gone and runs the command again.
	if got := sh(t, m.mnt, "cat first && echo again > second && cat second"); got != "over openssh\nagain\n" {
		t.Fatalf("after the command was killed: %q", got)
	}
	if got := readFile(t, filepath.Join(m.remote, "second")); got != "again\n" {
		t.Fatalf("server has %q", got)
	}
	if after := len(pidsIn(t, runs)); after <= before {
		t.Errorf("the command ran %d times before the kill and %d after: not run again", before, after)
	}
}

// The mount's own options work over a command as over our SSH:
// write-back (the journal, sync), idmap=user, max_conns (no effect: one
// session), and the operations that take the wire layer's channel (a
// second run of the command): mkdir, chmod of a symlink's target, a hard
// link told apart, a rename over a file.
func TestSSHCommandWithTheMountsOwnOptions(t *testing.T) {
	needServer(t)
	wrapper, _ := sshWrapper(t)
	m := mount(t, "-o", "ssh_command="+wrapper+",writeback,writeback_delay=0,idmap=user,max_conns=4")
	randomFile(t, filepath.Join(m.mnt, "big"), 3<<20)
	sh(t, m.mnt, "mkdir -p d/e && echo one > d/e/f && ln d/e/f d/e/g && echo two > d/new && mv d/new d/e/f && ln -s e/g d/l && chmod 600 d/l")
	if r := runBinary(t, home(t), "sync", m.mnt); r.code != 0 {
		t.Fatalf("sync exited %d: %s", r.code, r.stderr)
	}
	if sha(t, filepath.Join(m.mnt, "big")) != sha(t, filepath.Join(m.remote, "big")) {
		t.Fatal("big differs on the server")
	}
	if got := sh(t, m.remote, "cat d/e/f d/e/g && stat -c '%a %h' d/e/g && readlink d/l"); got != "two\none\n600 1\ne/g\n" {
		t.Errorf("server: %q", got)
	}
	if got := sh(t, m.mnt, "stat -c '%U' d"); strings.TrimSpace(got) != "root" {
		t.Errorf("owner shown %q, want root (idmap=user, mounted by root)", got)
	}
}

// No SSH keepalive of ours runs over a command: an SFTP request is sent
// every ServerAliveInterval instead, so a command gone silent (stopped
// here) is declared dead after ServerAliveCountMax misses, and the next
// call runs the command again at once rather than waiting out -o timeout.
func TestSSHCommandGoneSilentIsFoundDeadByTheSFTPKeepalive(t *testing.T) {
	needServer(t)
	wrapper, runs := sshWrapper(t)
	m := mount(t, "-o", "ssh_command="+wrapper+",ServerAliveInterval=1,ServerAliveCountMax=2,timeout=30")
	writeFile(t, filepath.Join(m.mnt, "f"), "kept\n", 0644)
	stopped := pidsIn(t, runs)
	t.Cleanup(func() {
		for _, pid := range stopped {
			syscall.Kill(pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	for _, pid := range stopped {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	time.Sleep(4 * time.Second) // two misses of 1 s, and room
	start := time.Now()
	out, err := shErrWithin(m.mnt, "cat f && echo more > g", 10*time.Second)
	if err != nil || out != "kept\n" {
		t.Fatalf("after the command went silent: %v %q", err, out)
	}
	// Without the keepalive the call would wait out its 30 s timeout.
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the call took %v: the silent link was not found dead by the keepalive", took)
	}
	if got := readFile(t, filepath.Join(m.remote, "g")); got != "more\n" {
		t.Fatalf("server has %q", got)
	}
}

// A command that needs a person gets the terminal while the mount starts,
// in the background as in the foreground: here OpenSSH's ssh asks for a
// key's passphrase on /dev/tty, and the mount works once it is typed.
func TestSSHCommandAsksForAPassphraseAtTheTerminal(t *testing.T) {
	needServer(t)
	key, passphrase := encryptedKey(t)
	for _, mode := range []string{"background", "foreground"} {
		t.Run(mode, func(t *testing.T) {
			served, mnt := newServedDir(t, "root"), newMountpoint(t)
			args := []string{remoteSpec(served), mnt, "-p", strconv.Itoa(server.port),
				"-o", "ssh_command=ssh -oIdentitiesOnly=yes,IdentityFile=" + key + ",UserKnownHostsFile=" + server.knownHosts}
			if mode == "foreground" {
				args = append(args, "-f")
			}
			tm := startOnTerminal(t, home(t), args...)
			cleanupMount(t, mnt)
			tm.expect(t, "Enter passphrase for key")
			tm.send(t, passphrase+"\r")
			if mode == "background" {
				if code := tm.exit(t); code != 0 {
					t.Fatalf("exit %d; terminal: %q", code, tm.out.String())
				}
			} else if !waitFor(20*time.Second, func() bool { return isMounted(mnt) }) {
				t.Fatalf("not mounted; terminal: %q", tm.out.String())
			}
			writeFile(t, filepath.Join(mnt, "typed"), "after the passphrase\n", 0644)
			if got := readFile(t, filepath.Join(served, "typed")); got != "after the passphrase\n" {
				t.Fatalf("server has %q", got)
			}
			if strings.Contains(tm.out.String(), passphrase) {
				t.Fatalf("the passphrase was echoed: %q", tm.out.String())
			}
		})
	}
}

// controlMaster starts OpenSSH's master connection at path, as a user
// does before mounting through it, and returns how to close it.
func controlMaster(t *testing.T, path string) (stop func()) {
	t.Helper()
	out, err := exec.Command("ssh", "-oBatchMode=yes", "-oControlMaster=yes", "-oControlPath="+path, "-N", "-f",
		"-p", strconv.Itoa(server.port), "-i", server.userKey, "-oUserKnownHostsFile="+server.knownHosts,
		"-oIdentitiesOnly=yes", "root@127.0.0.1").CombinedOutput()
	if err != nil {
		t.Fatalf("starting the master: %v: %s", err, out)
	}
	stop = func() { exec.Command("ssh", "-oControlPath="+path, "-O", "exit", "root@127.0.0.1").Run() }
	t.Cleanup(stop)
	return stop
}

// The mount is given no key: it can log in only through the master. Once
// the master is closed, the mount's session ends with it; a new master
// started, the next call runs the command again and goes on.
func TestSSHCommandThroughAControlMasterSurvivesANewMaster(t *testing.T) {
	needServer(t)
	ctl := filepath.Join(t.TempDir(), "cm")
	stop := controlMaster(t, ctl)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	r := runBinary(t, home(t), remoteSpec(m.remote), m.mnt, "-p", strconv.Itoa(server.port),
		"-o", "ssh_command=ssh -oBatchMode=yes -oControlMaster=no -oControlPath="+ctl+" -oIdentityFile=/nonexistent -oIdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+server.knownHosts)
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	writeFile(t, filepath.Join(m.mnt, "a"), "through the master\n", 0644)
	if got := readFile(t, filepath.Join(m.remote, "a")); got != "through the master\n" {
		t.Fatalf("server has %q", got)
	}
	stop()
	controlMaster(t, ctl)
	if got := sh(t, m.mnt, "cat a && echo b > b && cat b"); got != "through the master\nb\n" {
		t.Fatalf("after a new master: %q", got)
	}
	if got := readFile(t, filepath.Join(m.remote, "b")); got != "b\n" {
		t.Fatalf("server has %q", got)
	}
}

// directport: pkg/sftp's server (testdata/pkgsftpd) over plain TCP. The
// server killed and started again on its port, the next call connects
// anew.
func TestDirectPortMountsPkgSftpServerAndReconnectsWhenRestarted(t *testing.T) {
	needServer(t)
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	srv := startPkgsftpd(t, m.remote)
	r := runBinary(t, home(t), "127.0.0.1:"+m.remote, m.mnt, "-o", "directport="+strconv.Itoa(srv.port()))
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "not") || !strings.Contains(lines[0], "encrypted") {
		t.Errorf("stderr %q, want one line warning that nothing is encrypted", r.stderr)
	}
	if st := runBinary(t, home(t), "status", m.mnt); st.code != 0 || !strings.Contains(st.stdout, "transport: directport: SFTP over plain TCP to 127.0.0.1:"+strconv.Itoa(srv.port())) {
		t.Errorf("status: exit %d: %s%s", st.code, st.stdout, st.stderr)
	}
	writeFile(t, filepath.Join(m.mnt, "plain"), "over tcp\n", 0640)
	if got := readFile(t, filepath.Join(m.remote, "plain")); got != "over tcp\n" {
		t.Fatalf("server has %q", got)
	}
	if fi, err := os.Stat(filepath.Join(m.remote, "plain")); err != nil || fi.Mode().Perm() != 0640 {
		t.Fatalf("server's mode: %v %v", fi, err)
	}
	srv.restart()
	if got := sh(t, m.mnt, "mkdir d && echo more > d/f && cat plain d/f"); got != "over tcp\nmore\n" {
		t.Fatalf("after the server was restarted: %q", got)
	}
	if got := readFile(t, filepath.Join(m.remote, "d", "f")); got != "more\n" {
		t.Fatalf("server has %q", got)
	}
	if srv.runs != 2 {
		t.Errorf("pkgsftpd ran %d times", srv.runs)
	}
}

// -o passive: sftpmount's stdin and stdout are OpenSSH's sftp-server's
// stdout and stdin, as dpipe or socat would join them. It runs in the
// foreground; the sftp-server killed, a call fails (no reconnect: stdin
// is had once) rather than hangs.
func TestPassiveMountsWithSftpServerOnAPipe(t *testing.T) {
	needServer(t)
	const sftpServer = "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(sftpServer); err != nil {
		t.Fatalf("OpenSSH's sftp-server (install-deps.sh installs it): %v", err)
	}
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	toServerR, toServerW, err := os.Pipe() // the mount writes, the server reads
	if err != nil {
		t.Fatal(err)
	}
	fromServerR, fromServerW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(sftpServer)
	srv.Stdin, srv.Stdout = toServerR, fromServerW
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	var stderr lockedBuffer
	mount := exec.Command(binary, ":"+served, mnt, "-d", "-o", "passive,timeout=5")
	mount.Env = append(baseEnv(), home(t)...)
	mount.Stdin, mount.Stdout, mount.Stderr = fromServerR, toServerW, &stderr
	mount.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := mount.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed once the mount process ended, with waitErr
	var waitErr error
	go func() { waitErr = mount.Wait(); close(exited) }()
	cleanupMount(t, mnt)
	t.Cleanup(func() {
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			mount.Process.Kill()
		}
	})
	toServerR.Close()
	toServerW.Close()
	fromServerW.Close()
	fromServerR.Close()
	if !waitFor(10*time.Second, func() bool { return isMounted(mnt) }) {
		select {
		case <-exited:
			t.Fatalf("sftpmount -o passive ended (%v): %s", waitErr, stderr.String())
		default:
			t.Fatalf("not mounted after 10 s: %s", stderr.String())
		}
	}
	writeFile(t, filepath.Join(mnt, "p"), "on a pipe\n", 0640)
	if got := readFile(t, filepath.Join(served, "p")); got != "on a pipe\n" {
		t.Fatalf("server has %q", got)
	}
	if fi, err := os.Stat(filepath.Join(served, "p")); err != nil || fi.Mode().Perm() != 0640 {
		t.Fatalf("server's mode: %v %v", fi, err)
	}
	if got := sh(t, mnt, "mkdir d && ls"); got != "d\np\n" {
		t.Fatalf("ls: %q", got)
	}
	select {
	case <-exited:
		t.Fatalf("the foreground mount ended: %v", waitErr)
	default:
	}
	if !strings.Contains(stderr.String(), "transport: passive: SFTP on stdin and stdout") {
		t.Errorf("the -d log does not name the transport: %s", stderr.String())
	}
	srv.Process.Kill()
	srv.Wait()
	start := time.Now()
	// A create must reach the server: no cache answers it.
	if out, err := shErrWithin(mnt, "echo x > q", 15*time.Second); err == nil {
		t.Fatalf("a create after the server was killed: %q, want a failure (no reconnect with passive)", out)
	} else if !strings.Contains(out, "not connected") && !strings.Contains(out, "Input/output") {
		t.Errorf("a create after the server was killed: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(served, "q")); err == nil {
		t.Error("q is on the server")
	}
	t.Logf("a call after the server was killed failed in %v", time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("the failure took %v", took)
	}
	exec.Command("fusermount3", "-u", mnt).Run()
	start = time.Now()
	select {
	case <-exited:
		t.Logf("exited %v after the unmount", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Error("sftpmount did not exit once unmounted")
	}
}

// brokenSFTP is a -o ssh_command speaking broken SFTP, as the command
// sshfs's own suite puts at the other end: its reply is text, whose first
// four bytes read as a length far past any SFTP packet.
func brokenSFTP(t *testing.T) string {
	script := filepath.Join(t.TempDir(), "broken-sftp")
	writeFile(t, script, "#!/bin/sh\nhead -c 9 >/dev/null\necho 'Error: this is not an SFTP server'\n", 0755)
	return script
}

// cutShortSFTP is a -o ssh_command whose version reply says 9 bytes
// follow and sends 5, then waits: the hello's wait is bounded by
// ConnectTimeout.
func cutShortSFTP(t *testing.T) string {
	script := filepath.Join(t.TempDir(), "cut-short-sftp")
	writeFile(t, script, "#!/bin/sh\nhead -c 9 >/dev/null\nprintf '\\000\\000\\000\\011\\002\\000\\000\\000\\003'\nexec sleep 60\n", 0755)
	return script
}
