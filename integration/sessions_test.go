package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A large file's data past its first 2 MiB is spread over the extra SFTP
// sessions (max_conns), which sshd runs as sftp-servers of their own and
// which start in the background once mounted; the bytes on the server
// and read back must be exactly the file's.
func TestALargeFileMovesOverSeveralSFTPSessionsWithEveryByte(t *testing.T) {
	for _, sessions := range []string{"1", "3"} {
		t.Run("max_conns="+sessions, func(t *testing.T) {
			_, log, m := startForeground(t, "-o", "max_conns="+sessions)
			if sessions == "3" && !waitFor(10*time.Second, func() bool { return strings.Contains(log.String(), "3 sftp sessions on one connection") }) {
				t.Fatalf("sshd did not start three sftp sessions; log:\n%s", log.String())
			}
			src := filepath.Join(t.TempDir(), "src")
			randomFile(t, src, 16<<20)
			if out, err := exec.Command("cp", src, filepath.Join(m.mnt, "in")).CombinedOutput(); err != nil {
				t.Fatalf("cp into the mount: %v %s", err, out)
			}
			if sha(t, filepath.Join(m.remote, "in")) != sha(t, src) {
				t.Fatal("the server's copy differs from the file copied in")
			}
			randomFile(t, filepath.Join(m.remote, "out"), 16<<20)
			if sha(t, filepath.Join(m.mnt, "out")) != sha(t, filepath.Join(m.remote, "out")) {
				t.Fatal("the file read through the mount differs from the server's")
			}

			got := log.String()
			for _, name := range []string{"in", "out"} {
				for _, n := range []string{"2", "3"} {
					line := filepath.Join(m.remote, name) + ": open on sftp session " + n
					if strings.Contains(got, line) != (sessions == "3") {
						t.Errorf("with max_conns=%s, the log saying %q is %v", sessions, line, !(sessions == "3"))
					}
				}
			}
		})
	}
}
