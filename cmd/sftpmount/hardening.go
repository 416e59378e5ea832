package main

import (
	"os"
	"strconv"
	"syscall"
)

// keepDescriptorsToSelf marks every descriptor past stderr close-on-exec,
// as ssh's closefrom does: what we start (a ProxyCommand, SSH_ASKPASS,
// ssh -G, fusermount3) then gets only the ones given to it on purpose.
// Go opens its own descriptors so; these are the ones we were started
// with: the background process's status pipe (a command holding it would
// keep the mount command waiting), its terminal (where a password is
// typed) and its password pipe, and whatever the user's shell leaked.
func keepDescriptorsToSelf() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		for fd := 3; fd < 256; fd++ {
			syscall.CloseOnExec(fd)
		}
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// forgetDaemonVariables drops the background process's SFTPMOUNT_DAEMON_*
// variables once read, so that what it starts does not take itself for
// a background sftpmount.
func forgetDaemonVariables() {
	os.Unsetenv(daemonEnv)
	os.Unsetenv(daemonTTYEnv)
}
