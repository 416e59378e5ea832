package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// checkMountpoint refuses, before connecting, a mountpoint that is missing,
// not a directory, already a mount point, or not empty (unless -o
// nonempty): mounting over files hides them, which is rarely meant.
func checkMountpoint(mp string, nonempty bool) error {
	fi, err := os.Stat(mp)
	switch {
	case errors.Is(err, syscall.ENOTCONN):
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: a dead mount is still attached there; detach it with: fusermount3 -u -z %s", mp, mp))
	case errors.Is(err, os.ErrNotExist):
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: no such directory", mp))
	case err != nil:
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: %v", mp, errors.Unwrap(err)))
	case !fi.IsDir():
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: not a directory", mp))
	}
	if what := mountedAt(mp); what != "" {
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s is already in use by %s; unmount it first: fusermount3 -u %s", mp, what, mp))
	}
	if !nonempty {
		d, err := os.Open(mp)
		if err != nil {
			return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: %v", mp, errors.Unwrap(err)))
		}
		names, _ := d.Readdirnames(1)
		d.Close()
		if len(names) > 0 {
			return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s is not empty; mounting would hide its files (use -o nonempty to mount anyway)", mp))
		}
	}
	return nil
}

// mountedAt describes the filesystem mounted exactly at dir ("" if none),
// from /proc/self/mountinfo.
func mountedAt(dir string) string {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return ""
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	return findMount(f, resolved)
}

func findMount(mountinfo io.Reader, dir string) string {
	lines := bufio.NewScanner(mountinfo)
	for lines.Scan() {
		// id parent major:minor root MOUNTPOINT options ... - FSTYPE SOURCE options
		f := strings.Fields(lines.Text())
		if len(f) < 5 || unescapeMountinfo(f[4]) != dir {
			continue
		}
		for i, field := range f {
			if field == "-" && i+2 < len(f) {
				return fmt.Sprintf("%s (%s)", unescapeMountinfo(f[i+2]), f[i+1])
			}
		}
		return "another filesystem"
	}
	return ""
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkFuseDevice says plainly when the kernel offers no FUSE, instead of
// the mount failing later with a bare "no such device".
func checkFuseDevice() error {
	fi, err := os.Stat("/dev/fuse")
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return fail(ExitMount, "no FUSE device: /dev/fuse is missing; load the module with 'modprobe fuse' (in a container, pass --device /dev/fuse)")
	}
	// Opened as the user, as the setuid fusermount3 opens it too (with
	// the caller's privileges): what it would refuse is refused here,
	// before anything is sent to the server, and nothing more.
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil && os.Getuid() != 0 && errors.Is(err, os.ErrPermission) {
		return fail(ExitMount, "cannot open /dev/fuse: permission denied (fusermount3 opens it as you too); desktops make it crw-rw-rw- (mode 0666): ask for that, or to be in the group that may open it")
	}
	if err != nil {
		return fail(ExitMount, fmt.Sprintf("cannot open /dev/fuse: %v", errors.Unwrap(err)))
	}
	f.Close()
	return nil
}
