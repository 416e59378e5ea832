package main

import "golang.org/x/sys/unix"

// keepSecretsIn makes the process's memory (a password, a decrypted key)
// unreadable to others of the same uid and keeps it out of core dumps:
// not dumpable, ptrace and /proc/PID/mem are root's only, as ssh-agent
// does for itself.
func keepSecretsIn() {
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
