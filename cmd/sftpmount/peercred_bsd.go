//go:build darwin || freebsd

package main

import "golang.org/x/sys/unix"

// peerUID is the uid of the process at the other end of unix socket fd,
// as the kernel recorded it at connect (LOCAL_PEERCRED, what getpeereid
// reads on macOS and FreeBSD).
func peerUID(fd int) (uint32, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
