package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A directory of 30 000 names (SFTPMOUNT_BIGDIR_NAMES for more; the
// benchmark lists 100 000) is listed completely by ls, ls -l and find,
// ls -l sends lookups for few of its names, the mount's memory stays
// bounded, and rm -r removes every name on the server.
func TestADirectoryOfManyNames(t *testing.T) {
	n := 30000
	if v, err := strconv.Atoi(os.Getenv("SFTPMOUNT_BIGDIR_NAMES")); err == nil && v > 0 {
		n = v
	}
	cmd, log, m := startForeground(t)
	sh(t, m.remote, "mkdir d && cd d && seq -f 'name%07g' 1 "+strconv.Itoa(n)+" | xargs touch && ln name0000001 hard")
	count := func(script string) int {
		start := time.Now()
		out, err := shErrWithin(m.mnt, script, 10*time.Minute)
		if err != nil {
			t.Fatalf("%s: %v %s", script, err, out)
		}
		t.Logf("%s: %v", script, time.Since(start).Round(time.Millisecond))
		got, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("%s: %q", script, out)
		}
		return got
	}
	if got := count("ls -f d | wc -l"); got != n+1+2 {
		t.Errorf("ls -f: %d names, want %d and . and ..", got, n+1)
	}
	before := strings.Count(log.String(), "  sftp lstat ")
	if got := count("ls -l d | grep -c '^-'"); got != n+1 {
		t.Errorf("ls -l: %d files, want %d", got, n+1)
	}
	// The kernel sends readdirplus (names with their attributes) for a
	// directory's first batch only, and then looks names up one by one
	// as ls stats them; the lookups are answered from the attributes the
	// listing brought, but the attribute cache holds 250 000 of them.
	lstats := strings.Count(log.String(), "  sftp lstat ") - before
	t.Logf("ls -l of %d names sent %d lstats", n, lstats)
	if lstats > n/20 {
		t.Errorf("ls -l of %d names sent %d lstats; want the listing's attributes", n, lstats)
	}
	if got := count("find d | wc -l"); got != n+2 {
		t.Errorf("find: %d paths, want %d", got, n+2)
	}
	kib := peakRSS(t, cmd.Process.Pid)
	t.Logf("the mount's peak resident memory: %d MiB", kib>>10)
	if kib > 400<<10 {
		t.Errorf("the mount's peak resident memory was %d MiB, want at most 400", kib>>10)
	}
	count("rm -r d && echo 0")
	if _, err := os.Stat(filepath.Join(m.remote, "d")); !os.IsNotExist(err) {
		t.Fatalf("d still on the server after rm -r: %v", err)
	}
}
