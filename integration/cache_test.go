package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// sftpCalls counts the remote calls a -d log shows.
func sftpCalls(log string) int { return strings.Count(log, "  sftp ") }

func TestAWarmLsLRMakesNoRemoteCallWithinTheCacheTimeout(t *testing.T) {
	needServer(t)
	_, log, m := startForegroundWith(t, standardArgs(), "-o", "cache_timeout=60")
	sh(t, m.remote, "for d in 1 2 3 4 5; do mkdir d$d; (cd d$d && touch $(seq -f f%g 1 20) && ln -s f1 link); done")
	cold := sh(t, m.mnt, "ls -lR")
	before := len(log.String())
	warm := sh(t, m.mnt, "ls -lR")
	if warm != cold {
		t.Fatalf("the warm listing differs:\n%s\nvs\n%s", warm, cold)
	}
	if n := sftpCalls(log.String()[before:]); n != 0 {
		t.Fatalf("a warm ls -lR made %d remote calls:\n%s", n, log.String()[before:])
	}
	if sftpCalls(log.String()[:before]) == 0 {
		t.Fatal("the -d log shows no remote calls at all: the count proves nothing")
	}
	if !strings.Contains(warm, filepath.Base("f20")) {
		t.Fatalf("listing: %s", warm)
	}
}
