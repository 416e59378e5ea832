package fs

import (
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// A symlink's target is resolved by the local kernel, not the server: an
// absolute target names a *local* path, and ".." components can climb out
// of the mount. A malicious server could so make `cp x /mnt/remote/link`
// overwrite a local file. contain_symlinks (on by default, as in sshfs
// since 3.7.6) refuses such targets with EPERM. It is strict about "..":
// a lexical check is not enough, since an intermediate link ("b -> .")
// changes what a later ".." means.

// presentTarget turns the server's target for the link at rel into what
// readlink(2) returns.
func (f *FS) presentTarget(rel, target string) (string, syscall.Errno) {
	if f.opts.TransformSymlinks && path.IsAbs(target) {
		if inside, ok := underRoot(f.remote.Root(), target); ok {
			// With containment the transformed target is held to
			// the same rule as any (as sshfs 3.7.6 does): one that
			// climbs with ".." to reach a sibling directory is
			// refused; one below the link's directory passes.
			r, err := filepath.Rel("/"+path.Dir(rel), "/"+inside)
			if err == nil {
				if f.opts.ContainSymlinks && mayEscape(r) {
					return "", syscall.EPERM
				}
				return r, 0
			}
		}
	}
	if f.opts.ContainSymlinks && mayEscape(target) {
		return "", syscall.EPERM
	}
	return target, 0
}

// underRoot reports target's path relative to root when it lies inside.
func underRoot(root, target string) (string, bool) {
	target = path.Clean(target)
	if target == root {
		return "", true
	}
	if root == "/" {
		return strings.TrimPrefix(target, "/"), true
	}
	if strings.HasPrefix(target, root+"/") {
		return strings.TrimPrefix(target, root+"/"), true
	}
	return "", false
}

// mayEscape: absolute, or climbing with "..".
func mayEscape(target string) bool {
	if path.IsAbs(target) {
		return true
	}
	for _, c := range strings.Split(target, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}
