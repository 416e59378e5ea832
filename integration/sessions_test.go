//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
			if sessions == "3" && !waitFor(10*time.Second, func() bool {
				return strings.Contains(log.String(), "2 extra sftp sessions for large files, on a second connection")
			}) {
				t.Fatalf("sshd did not start two more sftp sessions on a second connection; log:\n%s", log.String())
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

// The extra sessions log in a second time, in the background, only when
// that needs nobody: a password given at mount time is not kept (unless
// keep_password), so no login bound to fail is made (servers count them).
func TestASecondLoginForLargeFilesUsesOnlyWhatNeedsNobody(t *testing.T) {
	a := needAuthServer(t)
	for _, c := range []struct {
		opts     string
		accepted int
	}{{"KbdInteractiveAuthentication=no", 1}, {"KbdInteractiveAuthentication=no,keep_password", 2}} {
		t.Run(c.opts, func(t *testing.T) {
			before, _ := os.ReadFile(a.sshServer.log)
			mountWithPasswordOnStdin(t, a, c.opts)
			accepted := func() int {
				data, _ := os.ReadFile(a.sshServer.log)
				return strings.Count(string(data[len(before):]), "Accepted password for "+passwordUser)
			}
			waitFor(5*time.Second, func() bool { return accepted() >= c.accepted })
			time.Sleep(time.Second) // a later, failing attempt would show by now
			data, _ := os.ReadFile(a.sshServer.log)
			since := string(data[len(before):])
			if n := strings.Count(since, "Accepted password for "+passwordUser); n != c.accepted {
				t.Errorf("%d logins accepted, want %d:\n%s", n, c.accepted, since)
			}
			if strings.Contains(since, "Failed") || strings.Contains(since, "authenticating user "+passwordUser) {
				t.Errorf("a login failed or was abandoned:\n%s", since)
			}
		})
	}
}

// A large file whose size the lookup told is opened on the extra sessions
// while its own open is on the way, not a round trip after it: each bulk
// open is asked before the file's own open can have been answered (the
// lookup's answer plus the link's round trip), and the bytes are the
// server's.
func TestALargeFileIsOpenedOnTheExtraSessionsWithItsOwnOpen(t *testing.T) {
	const rtt = 100 * time.Millisecond
	link := newSlowLink(t, int(rtt.Milliseconds()))
	// No bulk metadata: its answer would tell the size without the
	// lookup's lstat this test times the bulk opens against.
	_, log, m := startForegroundWith(t, append(link.args(), "-o", "remote_commands=no"))
	if !waitFor(15*time.Second, func() bool {
		return strings.Contains(log.String(), "8 extra sftp sessions for large files, on a second connection")
	}) {
		t.Fatalf("the extra sftp sessions did not start; log:\n%s", log.String())
	}
	file := filepath.Join(m.remote, "big")
	randomFile(t, file, 8<<20)
	if sha(t, filepath.Join(m.mnt, "big")) != sha(t, file) {
		t.Fatal("the file read through the mount differs from the server's")
	}
	got := log.String()
	// Two: the lookup's, and the open's close-to-open check sent beside
	// the open (the first one answered is the lookup's).
	lookup := remoteCalls(t, got, "lstat", file, 2)
	bulk := regexp.MustCompile(`(\d\d:\d\d:\d\d\.\d{6}) `+regexp.QuoteMeta(file)+`: open on sftp session \d+ for its data, asked (\S+) ago\n`).FindAllStringSubmatch(got, -1)
	if len(bulk) == 0 {
		t.Fatalf("no extra session opened %s; log:\n%s", file, got)
	}
	for _, b := range bulk {
		logged, err := time.Parse(logTime, b[1])
		if err != nil {
			t.Fatal(err)
		}
		ago, err := time.ParseDuration(b[2])
		if err != nil {
			t.Fatal(err)
		}
		if asked := logged.Add(-ago); !asked.Before(lookup.end.Add(rtt)) {
			t.Errorf("a bulk open was asked at %s, after the file's own open could be answered (lookup answered at %s, round trip %v)",
				asked.Format(logTime), lookup.end.Format(logTime), rtt)
		}
	}
}
