//go:build !linux && !freebsd

package transport

import "syscall"

// endWithParent can ask nothing of the kernel here (macOS has no parent
// death signal). A killed sftpmount still ends the usual command: its
// stdin, our pipe, reaches end of file when we die, and ssh -W, nc and
// socat exit on that; a command that ignores its stdin outlives us.
// Built, not tested: sftpmount's tests run on Linux.
func endWithParent(*syscall.SysProcAttr) {}
