package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// The background mode re-runs this binary as a child in its own session,
// with a pipe on fd 3. The child connects and mounts, then writes one
// line: "0" when the mount is ready, or "CODE\tmessage" when it failed.
// The parent relays that line and exits with that code, so the command
// returns only once the outcome is known.

const daemonEnv = "SFTPMOUNT_DAEMON_CHILD"

func isDaemonChild() bool { return os.Getenv(daemonEnv) == "1" }

func startDaemon(args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fail(ExitInternal, fmt.Sprintf("cannot find own executable: %v", err))
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fail(ExitInternal, err.Error())
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fail(ExitInternal, err.Error())
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail(ExitInternal, fmt.Sprintf("start background process: %v", err))
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	line = strings.TrimRight(line, "\n")
	if line == "0" {
		cmd.Process.Release()
		return nil
	}
	codeStr, msg, ok := strings.Cut(line, "\t")
	code, err := strconv.Atoi(codeStr)
	if !ok || err != nil {
		state, _ := cmd.Process.Wait()
		return fail(ExitInternal, fmt.Sprintf("background process ended before the mount was ready (%v)", state))
	}
	cmd.Process.Wait()
	return fail(code, msg)
}

// serveAsDaemon runs the mount and reports its start on fd 3.
func serveAsDaemon(o options) error {
	status := os.NewFile(3, "status")
	// Paths were made absolute while parsing; leave the user's directory
	// so that the daemon does not keep it busy.
	os.Chdir("/")
	ready := func(err error) {
		if err == nil {
			fmt.Fprintln(status, "0")
		} else {
			f := asFailure(err)
			fmt.Fprintf(status, "%d\t%s\n", f.code, strings.ReplaceAll(f.msg, "\n", " "))
		}
		status.Close()
	}
	return serve(o, ready)
}
