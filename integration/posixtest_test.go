//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixtestExpectedToFail names the go-fuse POSIX checks that test what
// SFTP v3 cannot express, each with the reason. Everything else must pass.
var posixtestExpectedToFail = map[string]string{
	"Fallocate":           "SFTP has no request to reserve space; fallocate(2) gets EOPNOTSUPP",
	"FallocateKeepSize":   "SFTP has no request to reserve space; fallocate(2) gets EOPNOTSUPP",
	"XAttr":               "SFTP v3 has no extended attributes: setxattr gets ENOTSUP",
	"OpenSymlinkRace":     "SFTP v3 open has no O_NOFOLLOW: a name swapped for a link on the server between lookup and open opens the link's target on the server (here the server is this machine, so /etc/passwd), which the SFTP user can read anyway; no local file is reached",
	"FcntlFlockLocksFile": "expects two fds of one process to conflict; POSIX locks are per process, and a local ext4 grants this lock too",
}

func TestGoFusePosixSuiteOnTheMount(t *testing.T) {
	// Symlink tests use absolute targets, which contain_symlinks refuses.
	runPosixSuite(t, mount(t, "-o", "no_contain_symlinks"), posixtestExpectedToFail)
}

// runPosixSuite runs go-fuse's POSIX checks on m, each in a directory of
// its own, but those expected to fail there (with the reason).
func runPosixSuite(t *testing.T, m *mounted, expectedToFail map[string]string) {
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := expectedToFail[name]; ok {
				t.Skip("not expressible over SFTP: " + why)
			}
			dir := filepath.Join(m.mnt, name)
			if err := os.Mkdir(dir, 0755); err != nil {
				t.Fatal(err)
			}
			posixtest.All[name](t, dir)
		})
	}
}
