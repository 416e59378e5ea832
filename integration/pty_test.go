//go:build linux

package integration

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminal runs sftpmount on a pseudo-terminal of its own, as a user at a
// shell would, so that prompts can be read and answered.
type terminal struct {
	master *os.File
	cmd    *exec.Cmd
	out    lockedBuffer
	done   chan struct{} // closed when the process has exited
	code   int
}

func startOnTerminal(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	tm := &terminal{master: master, done: make(chan struct{})}
	tm.cmd = exec.Command(binary, args...)
	tm.cmd.Env = append(append(baseEnv(), "TERM=dumb"), env...)
	tm.cmd.Stdin, tm.cmd.Stdout, tm.cmd.Stderr = slave, slave, slave
	tm.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := tm.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go io.Copy(&tm.out, master) // ends with EIO once the last holder of the terminal closes it
	go func() {
		tm.cmd.Wait()
		tm.code = tm.cmd.ProcessState.ExitCode()
		close(tm.done)
	}()
	t.Cleanup(func() {
		tm.cmd.Process.Kill()
		<-tm.done
		master.Close()
	})
	return tm
}

// expect waits until the terminal has shown want.
func (tm *terminal) expect(t *testing.T, want string) {
	t.Helper()
	if !waitFor(20*time.Second, func() bool { return strings.Contains(tm.out.String(), want) }) {
		t.Fatalf("terminal never showed %q; it shows: %q", want, tm.out.String())
	}
}

// send types text at the terminal.
func (tm *terminal) send(t *testing.T, text string) {
	t.Helper()
	if _, err := tm.master.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// exit waits for the command to end and returns its exit code.
func (tm *terminal) exit(t *testing.T) int {
	t.Helper()
	select {
	case <-tm.done:
		return tm.code
	case <-time.After(30 * time.Second):
		t.Fatalf("sftpmount did not exit; terminal shows: %q", tm.out.String())
	}
	return -1
}
