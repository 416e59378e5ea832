// Package integration mounts the real sftpmount binary against a real
// OpenSSH sshd on loopback and checks what users see, on the mount and in
// the directory sshd serves.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The shared fixtures: one sshd and one built binary for the whole run.
var (
	binary  string     // path of the freshly built sftpmount
	server  *sshServer // started in TestMain
	skipAll string     // why every test skips, outside CI only
	workDir string     // removed at the end of the run
)

func TestMain(m *testing.M) {
	if args := os.Getenv("SFTPMOUNT_FSX_CHILD"); args != "" {
		os.Exit(fsxChild(args))
	}
	if args := os.Getenv("SFTPMOUNT_DIAL_CHILD"); args != "" {
		os.Exit(dialChild(args))
	}
	if ctl := os.Getenv("SFTPMOUNT_CUTTER_CHILD"); ctl != "" {
		os.Exit(cutterChild(ctl))
	}
	if record := os.Getenv("SFTPMOUNT_PROXY_CHILD"); record != "" {
		os.Exit(proxyChild(record, os.Args[1:]))
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if missing := missingTools(); len(missing) > 0 {
		msg := "integration tests need " + strings.Join(missing, ", ") + " (bash .ci/run installs them)"
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "FAIL: "+msg)
			return 1
		}
		skipAll = msg
		fmt.Fprintln(os.Stderr, "\n*** SKIPPING ALL INTEGRATION TESTS: "+msg+" ***\n")
		return m.Run()
	}
	var err error
	workDir, err = os.MkdirTemp("", "sftpmount-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	os.Chmod(workDir, 0755) // the unprivileged test user must reach its served dirs

	binary = filepath.Join(workDir, "sftpmount")
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", binary, "../cmd/sftpmount")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sftpmount:", err)
		return 1
	}
	server, err = startSSHD(filepath.Join(workDir, "sshd"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting sshd:", err)
		return 1
	}
	defer server.stop()
	defer stopAuthServer()
	return m.Run()
}

// missingTools lists what the machine lacks to run the integration tests.
func missingTools() []string {
	var missing []string
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	for _, tool := range []string{sshdPath} {
		if _, err := os.Stat(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, tool := range []string{"fusermount3", "ssh-keygen", "ssh-agent", "ssh-add", "rsync", "git", "tar", "go", "mount", "unshare", "useradd", "chpasswd"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return missing
}

// needServer skips (outside CI only) when the fixtures could not start.
func needServer(t *testing.T) {
	t.Helper()
	if skipAll != "" {
		t.Skip("SKIPPED: " + skipAll)
	}
}
