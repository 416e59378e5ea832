//go:build darwin || freebsd

package main

import "golang.org/x/sys/unix"

// The ioctls that read and set a terminal's modes (ttyPrompter.Secret):
// the BSDs name them TIOCGETA and TIOCSETA.
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
