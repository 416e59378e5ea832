//go:build linux

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
	if mode := os.Getenv("SFTPMOUNT_PKGSFTP_CHILD"); mode != "" {
		os.Exit(pkgSFTPChild(mode))
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
	if os.Getenv("SFTPMOUNT_RACE") != "" {
		// Every mount of this run under the race detector; each process
		// writes what it finds to a file of raceDir, read at the end.
		raceDir = filepath.Join(workDir, "race")
		if err := os.Mkdir(raceDir, 0o1777); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Chmod(raceDir, 0o1777) // the unprivileged test user's mounts write here too
		build.Args = append(build.Args[:2], append([]string{"-race"}, build.Args[2:]...)...)
	}
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
	defer stopDropbear()
	watchTheRun()
	code := m.Run()
	if raceDir != "" && racesFound() {
		return 1
	}
	return code
}

// raceDir, when set (SFTPMOUNT_RACE), is where the race detector of every
// mount of this run writes its reports.
var raceDir string

// baseEnv is the environment every sftpmount of the tests starts from:
// PATH, and under SFTPMOUNT_RACE where to report a race (a mount in the
// background has no stderr to report it on).
func baseEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	if raceDir != "" {
		env = append(env, "GORACE=log_path="+filepath.Join(raceDir, "report")+" halt_on_error=0")
	}
	return env
}

// racesFound prints every race the mounts of this run reported, and
// whether there was one.
func racesFound() bool {
	reports, _ := filepath.Glob(filepath.Join(raceDir, "report*"))
	found := false
	for _, r := range reports {
		data, err := os.ReadFile(r)
		if err != nil || !strings.Contains(string(data), "DATA RACE") {
			continue
		}
		found = true
		fmt.Fprintf(os.Stderr, "FAIL: the race detector reported, in %s:\n%s\n", filepath.Base(r), data)
	}
	if !found {
		fmt.Fprintln(os.Stderr, "race detector: no mount of this run reported a race")
	}
	return found
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
	testRunning(t)
}
