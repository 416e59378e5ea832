//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sshfs's -o sftp_server=COMMAND: the command runs on the server instead
// of its sftp subsystem (users serve root-only files with "sudo -n
// /usr/lib/openssh/sftp-server"). A wrapper on the server records each
// run, as the login user, then becomes OpenSSH's sftp-server. -C, which
// guides put on sshfs command lines, is accepted with one notice.
func TestSftpServerRunsTheGivenCommandAndCompressionIsNoticed(t *testing.T) {
	needServer(t)
	const sftpServer = "/usr/lib/openssh/sftp-server"
	if _, err := os.Stat(sftpServer); err != nil {
		t.Fatalf("OpenSSH's sftp-server (install-deps.sh installs it): %v", err)
	}
	tools := newServedDir(t, "root")
	marker := filepath.Join(tools, "runs")
	writeFile(t, marker, "", 0666)
	os.Chmod(marker, 0666)
	wrapper := filepath.Join(tools, "sftp-server-wrapper")
	writeFile(t, wrapper, "#!/bin/sh\nid -un >> "+marker+"\nexec "+sftpServer+" \"$@\"\n", 0755)

	m := &mounted{remote: newServedDir(t, testUser), mnt: newMountpoint(t)}
	args := append([]string{testUser + "@127.0.0.1:" + m.remote, m.mnt, "-C", "-o", "sftp_server=" + wrapper + ",max_conns=3"}, standardArgs()...)
	r := runBinary(t, []string{"HOME=" + isolatedHome(t)}, args...)
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, m.mnt)
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "compression") {
		t.Errorf("-C: stderr %q, want one line saying there is no compression", r.stderr)
	}

	// A file large enough for the extra sessions to carry some of it.
	big := strings.Repeat("through the wrapper\n", 1<<16)
	writeFile(t, filepath.Join(m.mnt, "f"), big, 0644)
	if got := readFile(t, filepath.Join(m.remote, "f")); got != big {
		t.Fatalf("the server has %d bytes, want %d", len(got), len(big))
	}
	// The extra sessions and our request layer's channel start in the
	// background after the mount: one SFTP session, two extra ones
	// (max_conns=3), and remote/wire's channel.
	var runs []string
	waitFor(10*time.Second, func() bool { runs = strings.Fields(readFile(t, marker)); return len(runs) >= 4 })
	time.Sleep(500 * time.Millisecond) // one more would show by now
	if runs = strings.Fields(readFile(t, marker)); len(runs) != 4 {
		t.Fatalf("the wrapper ran %d times (%q), want once per SFTP channel: 4", len(runs), runs)
	}
	for _, who := range runs {
		if who != testUser {
			t.Fatalf("the wrapper ran as %q, want the login user %s", who, testUser)
		}
	}
}
