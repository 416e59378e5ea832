//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docsMountOptions gives the -o options of the fstab line and of the
// systemd unit in docs/mounting.md, each without their IdentityFile.
func docsMountOptions(t *testing.T) map[string]string {
	t.Helper()
	doc := readFile(t, "../docs/mounting.md")
	found := map[string]string{}
	for _, line := range strings.Split(doc, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 6 && f[2] == "fuse.sftpmount":
			found["fstab"] = f[3]
		case len(f) == 1 && strings.HasPrefix(f[0], "Options="):
			found["systemd"] = strings.TrimPrefix(f[0], "Options=")
		}
	}
	if len(found) != 2 {
		t.Fatalf("docs/mounting.md's fstab line and systemd Options= not found: %v", found)
	}
	for k, opts := range found {
		var kept []string
		for _, o := range strings.Split(opts, ",") {
			if !strings.HasPrefix(o, "IdentityFile=") {
				kept = append(kept, o)
			}
		}
		found[k] = strings.Join(kept, ",")
	}
	return found
}

// Mounted by root with docs/mounting.md's fstab and systemd options
// (allow_other), another local user reaches the mount but gets only what
// the files' modes give them: not a 0600 file of root's, not a new file
// in root's 0755 directory (which would be made on the server as root).
func TestTheAllowOtherExamplesOfTheDocsGiveOtherUsersOnlyWhatModesAllow(t *testing.T) {
	needServer(t)
	for where, opts := range docsMountOptions(t) {
		t.Run(where, func(t *testing.T) {
			served, mnt := newServedDir(t, "root"), newMountpoint(t)
			writeFile(t, filepath.Join(served, "secret"), "root only\n", 0o600)
			writeFile(t, filepath.Join(served, "public"), "for all\n", 0o644)
			r := runBinary(t, home(t), "root@127.0.0.1:"+served, mnt, "-o", opts+","+fstabOptions())
			if r.code != 0 {
				t.Fatalf("mounting with %q: exit %d: %s", opts, r.code, r.stderr)
			}
			cleanupMount(t, mnt)
			before := snapshot(t, served)
			script := "cat " + mnt + "/public; cat " + mnt + "/secret; echo planted > " + mnt + "/new; chmod 0666 " + mnt + "/secret; true"
			out := otherUserOutput(t, script)
			if !strings.Contains(out, "for all") {
				t.Errorf("%s cannot read a 0644 file through the mount: %s", testUser, out)
			}
			if strings.Contains(out, "root only") {
				t.Errorf("%s read root's 0600 file through a mount with %q", testUser, opts)
			}
			if after := snapshot(t, served); after != before {
				t.Errorf("%s changed the server through a mount with %q:\n%s\nwas\n%s", testUser, opts, after, before)
			}
			if _, err := os.Lstat(filepath.Join(served, "new")); err == nil {
				t.Errorf("%s made a file on the server", testUser)
			}
		})
	}
}

// otherUserOutput runs script with sh as testUser and gives its output.
func otherUserOutput(t *testing.T, script string) string {
	t.Helper()
	out, _ := asUserIn("/", "/", "sh", "-c", script).CombinedOutput()
	return string(out)
}
