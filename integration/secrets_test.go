//go:build linux

package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processesShowing lists every process whose command line or environment
// contains secret: what `ps e` would let any user of the machine read.
func processesShowing(secret string) []string {
	var found []string
	for _, file := range []string{"cmdline", "environ"} {
		eachProcess(file, func(pid int, content []byte) {
			if strings.Contains(string(content), secret) {
				found = append(found, file+" of "+strings.ReplaceAll(string(content), "\x00", " "))
			}
		})
	}
	return found
}

func TestPasswordNeverAppearsInArgvEnvironmentOrTheDebugLog(t *testing.T) {
	a := needAuthServer(t)

	// Foreground with -d: everything the mount logs is captured.
	served, mnt := passwordUserDir(t), newMountpoint(t)
	cmd := exec.Command(binary, append([]string{passwordUser + "@127.0.0.1:" + served, mnt, "-d"}, authArgs(a, "password_stdin")...)...)
	cmd.Env = append(baseEnv(), home(t)...)
	cmd.Stdin = strings.NewReader(a.password + "\n")
	log := serveInForeground(t, cmd, mnt)
	writeFile(t, filepath.Join(mnt, "f"), "data", 0644)
	sh(t, mnt, "ls -l && cat f")

	// Background, keeping the password for reconnects, and through askpass.
	mountWithPasswordOnStdin(t, a, "keep_password")
	askpass := filepath.Join(t.TempDir(), "askpass")
	writeFile(t, askpass, "#!/bin/sh\necho '"+a.password+"'\n", 0700)
	viaAsk, askMnt := passwordUserDir(t), newMountpoint(t)
	r := runBinary(t, append(home(t), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force"), append([]string{passwordUser + "@127.0.0.1:" + viaAsk, askMnt}, authArgs(a, "")...)...)
	mountedBy(t, r, askMnt, viaAsk, passwordUser)

	// The scan itself must be able to see a secret where ps would.
	canary := exec.Command("sleep", "30")
	canary.Env = []string{"CANARY=" + a.password + "-canary"}
	if err := canary.Start(); err != nil {
		t.Fatal(err)
	}
	// Until the child has exec'd, /proc shows the parent's environment.
	var found []string
	waitFor(5*time.Second, func() bool { found = processesShowing(a.password + "-canary"); return len(found) == 1 })
	canary.Process.Kill()
	canary.Wait()
	if len(found) != 1 {
		t.Fatalf("the scan does not see a secret in an environment: %q", found)
	}
	if found := processesShowing(a.password); len(found) > 0 {
		t.Fatalf("the password is visible in /proc: %q", found)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	text := log.String()
	if !strings.Contains(text, "sftp") || !strings.Contains(text, "connected to 127.0.0.1") {
		t.Fatalf("the -d log is missing or empty: %q", text)
	}
	if strings.Contains(text, a.password) {
		t.Fatal("the password is in the -d log")
	}
}
