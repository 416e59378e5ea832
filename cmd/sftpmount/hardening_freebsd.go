package main

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// procctl(2)'s PROC_TRACE_CTL and its PROC_TRACE_CTL_DISABLE, with
// idtype P_PID (<sys/procctl.h>, <sys/wait.h>); x/sys/unix names only the
// system call.
const (
	procPID             = 0
	procTraceCtl        = 7
	procTraceCtlDisable = 2
)

// keepSecretsIn keeps debuggers of the same uid out of the process's
// memory (a password, a decrypted key): procctl(PROC_TRACE_CTL_DISABLE),
// as ssh-agent does on FreeBSD, the counterpart of Linux's
// PR_SET_DUMPABLE. Built, not tested: sftpmount's tests run on Linux.
func keepSecretsIn() {
	arg := int32(procTraceCtlDisable)
	unix.Syscall6(unix.SYS_PROCCTL, procPID, uintptr(os.Getpid()), procTraceCtl, uintptr(unsafe.Pointer(&arg)), 0, 0)
}
