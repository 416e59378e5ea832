//go:build linux || freebsd

package transport

import "syscall"

// endWithParent has the kernel send the command SIGTERM when this process
// dies (Pdeathsig: Linux's PR_SET_PDEATHSIG, FreeBSD's PROC_PDEATHSIG_CTL).
func endWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
