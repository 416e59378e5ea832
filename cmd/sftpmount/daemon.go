package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The background mode re-runs this binary as a child in its own session.
// The child gets three descriptors: fd 3, a pipe for its status; fd 4, the
// terminal (or /dev/null) to ask for passphrases and host keys on; fd 5, a
// pipe carrying the password read for -o password_stdin, so that no secret
// ever passes through argv or the environment. The child writes
// "notice\tmessage" lines, then one final line: "0" when the mount is
// ready, or "CODE\tmessage" when it failed. The parent prints the notices
// and exits with that code, so the command returns only once the outcome
// is known.

const (
	daemonEnv    = "SFTPMOUNT_DAEMON_CHILD"
	daemonTTYEnv = "SFTPMOUNT_DAEMON_TTY"
)

func isDaemonChild() bool { return os.Getenv(daemonEnv) == "1" }

func startDaemon(args []string, o options) error {
	exe, err := os.Executable()
	if err != nil {
		return fail(ExitInternal, fmt.Sprintf("cannot find own executable: %v", err))
	}
	var password []byte
	if o.PasswordStdin {
		if password, err = readPasswordLine(os.Stdin); err != nil {
			return fail(ExitUsage, err.Error())
		}
		defer wipeBytes(password)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(ExitInternal, err.Error())
	}
	defer devnull.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fail(ExitInternal, err.Error())
	}
	secretR, secretW, err := os.Pipe()
	if err != nil {
		return fail(ExitInternal, err.Error())
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	tty := openTerminal()
	ttyFile := devnull
	if tty != nil {
		defer tty.Close()
		ttyFile = tty
		cmd.Env = append(cmd.Env, daemonTTYEnv+"=1")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{statusW, ttyFile, secretR}
	// A session of its own, away from the terminal; but a -o ssh_command
	// asks on /dev/tty (ssh's prompts), so with one the child keeps the
	// terminal while it starts and leaves it once ready (serveAsDaemon).
	keepTTY := o.SSHCommand != "" && tty != nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: !keepTTY}
	if err := cmd.Start(); err != nil {
		return fail(ExitInternal, fmt.Sprintf("start background process: %v", err))
	}
	statusW.Close()
	secretR.Close()
	secretW.Write(password)
	secretW.Close()

	stop := stopChildOnSignal(cmd.Process, tty)
	defer stop()
	return relayStatus(statusR, cmd.Process)
}

// stopChildOnSignal ends the child if the user interrupts the start (say
// at a password prompt, where the child is waiting on the terminal).
func stopChildOnSignal(child *os.Process, tty *os.File) func() {
	return onInterrupt(tty, func() { child.Kill() })
}

// relayStatus prints the child's notices and returns its outcome.
func relayStatus(r io.ReadCloser, child *os.Process) error {
	defer r.Close()
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		line := lines.Text()
		if msg, ok := strings.CutPrefix(line, "notice\t"); ok {
			say(msg)
			continue
		}
		if line == "0" {
			child.Release()
			return nil
		}
		codeStr, msg, ok := strings.Cut(line, "\t")
		if code, err := strconv.Atoi(codeStr); ok && err == nil {
			child.Wait()
			return fail(code, msg)
		}
	}
	state, _ := child.Wait()
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fail(ExitInterrupted, "interrupted before the mount was ready")
	}
	return fail(ExitInternal, fmt.Sprintf("background process ended before the mount was ready (%v)", state))
}

// serveAsDaemon runs the mount and reports its start on fd 3.
func serveAsDaemon(o options) error {
	hasTTY := os.Getenv(daemonTTYEnv) == "1"
	forgetDaemonVariables()
	inTTYSession := false
	if pgid, err := unix.Getpgid(0); err == nil && pgid != os.Getpid() {
		// Still in the terminal's session (startDaemon, for
		// ssh_command): the commands started now must outlive it, and
		// a SIGHUP (the terminal closed, its session's leader gone)
		// must not end them. Ignored here, it is ignored in them:
		// OpenSSH's ssh keeps SIGHUP ignored when it found it so.
		inTTYSession = true
		signal.Ignore(syscall.SIGHUP)
	}
	status := os.NewFile(3, "status")
	st := &startup{}
	if hasTTY {
		st.tty = os.NewFile(4, "tty")
	} else {
		os.NewFile(4, "unused").Close()
	}
	secret := os.NewFile(5, "secret")
	if o.PasswordStdin {
		st.password, _ = readPasswordLine(secret)
	}
	secret.Close()
	// Paths were made absolute while parsing; leave the user's directory
	// so that the daemon does not keep it busy.
	os.Chdir("/")
	st.notice = func(msg string) {
		fmt.Fprintf(status, "notice\t%s\n", strings.ReplaceAll(msg, "\n", " "))
	}
	st.ready = func(err error) {
		// Out of the terminal's session before the parent learns the
		// outcome and exits: as a session leader it would take the
		// terminal's foreground group, us included, with it (SIGHUP).
		if inTTYSession {
			unix.Setsid()
			signal.Reset(syscall.SIGHUP) // serve takes it from here
		}
		if err == nil {
			fmt.Fprintln(status, "0")
		} else {
			f := asFailure(err)
			fmt.Fprintf(status, "%d\t%s\n", f.code, strings.ReplaceAll(f.msg, "\n", " "))
		}
		// Later notices (a reconnect) find the pipe closed and go nowhere.
		status.Close()
	}
	return serve(o, st)
}
