//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// makeSourceFiles writes n files of source-like sizes (every seventh past the
// 128 KiB fetched ahead) into dir on the server side and returns their
// names, sorted.
func makeSourceFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0755); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("f%03d.go", i)
		size := 200 + i*97
		if i%7 == 3 {
			size = 300<<10 + i
		}
		body := strings.Repeat(fmt.Sprintf("// %s line\n", name), size/16+1)[:size]
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// A walk that reads a directory's files one after another (grep -r, cat
// of every name) finds the next ones fetched ahead: their opens ask the
// server nothing, and every byte read is the server's, small and large
// files alike. A random order fetches nothing ahead; a walk is never
// fetched further than aheadFiles (32) past what it opened.
func TestAWalkReadingFilesInOrderFindsTheNextOnesFetchedAhead(t *testing.T) {
	// The timed rules, which this walk is about: with the change feed a
	// quiet directory's files are trusted past open_timeout, and read
	// from the kernel's pages without a fetch (caches.md).
	_, log, m := startForeground(t, "-o", "remote_commands=no")
	names := makeSourceFiles(t, filepath.Join(m.remote, "src"), 60)

	// grep -r: the directory's order as listed to the kernel.
	out, err := exec.Command("grep", "-rc", "line", filepath.Join(m.mnt, "src")).CombinedOutput()
	if err != nil {
		t.Fatalf("grep -r: %v %s", err, out)
	}
	if got := strings.Count(string(out), "\n"); got != len(names) {
		t.Fatalf("grep -r saw %d files, want %d:\n%s", got, len(names), out)
	}
	// The -d log reaches the test through a pipe, behind the calls.
	logged(t, log, 0, `release "/src/`, len(names))
	ahead := strings.Count(log.String(), "fetched ahead")
	t.Logf("grep -r of %d files: %d opened on bytes fetched ahead", len(names), ahead)
	if ahead < len(names)-5 {
		t.Fatalf("grep -r of %d files opened %d on bytes fetched ahead, want all but the first few:\n%s", len(names), ahead, log.String())
	}

	// Past open_timeout what was fetched is not used; cat in name order
	// then reads every file through fetches of its own, checked against
	// the server's bytes.
	time.Sleep(1500 * time.Millisecond)
	before := len(log.String())
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(m.mnt, "src", name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(m.remote, "src", name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s: read %d bytes through the mount, the server has %d (or other bytes)", name, len(got), len(want))
		}
	}
	logged(t, log, before, `release "/src/`, len(names))
	inOrder := log.String()[before:]
	if n := strings.Count(inOrder, "fetched ahead"); n < len(names)-5 {
		t.Fatalf("reading in name order opened %d of %d files on bytes fetched ahead:\n%s", n, len(names), inOrder)
	}

	// A random order (never two in a row that follow each other by name
	// or as listed to the kernel) fetches nothing ahead.
	time.Sleep(1500 * time.Millisecond)
	listed := strings.Fields(sh(t, m.mnt, "ls -f src | grep -v '^[.]'"))
	before = len(log.String())
	for _, name := range randomOrder(t, names, listed) {
		if _, err := os.ReadFile(filepath.Join(m.mnt, "src", name)); err != nil {
			t.Fatal(err)
		}
	}
	logged(t, log, before, `release "/src/`, len(names))
	if n := strings.Count(log.String()[before:], "ahead of a walk"); n != 0 {
		t.Fatalf("a random order fetched %d files ahead, want none", n)
	}
}

// A walk that stops: what was fetched ahead and not opened is dropped
// past open_timeout, and a walk of a large directory never fetches more
// than 32 files past the last one it opened.
func TestAWalkFetchesABoundedNumberOfFilesAhead(t *testing.T) {
	_, log, m := startForeground(t)
	names := makeSourceFiles(t, filepath.Join(m.remote, "d"), 200)
	if _, err := os.ReadDir(filepath.Join(m.mnt, "d")); err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:10] {
		readFile(t, filepath.Join(m.mnt, "d", name))
	}
	logged(t, log, 0, `release "/d/`, 10)
	time.Sleep(300 * time.Millisecond)
	fetched := strings.Count(log.String(), "ahead of a walk")
	t.Logf("10 files read in order: %d fetched ahead", fetched)
	if fetched == 0 || fetched > 10+32 {
		t.Fatalf("10 files read in order fetched %d ahead, want some and at most 32 past the tenth", fetched)
	}
	// The file changed on the server once its fetch is too old to use:
	// the open reads the server's new bytes.
	next := filepath.Join(m.remote, "d", names[10])
	time.Sleep(1200 * time.Millisecond)
	writeFile(t, next, "changed on the server", 0644)
	time.Sleep(1100 * time.Millisecond)
	if got := readFile(t, filepath.Join(m.mnt, "d", names[10])); got != "changed on the server" {
		t.Fatalf("a file changed on the server after it was fetched ahead reads %q", got)
	}
}

// randomOrder returns names in an order in which no name follows the
// one before it in either sorted or listed.
func randomOrder(t *testing.T, sorted, listed []string) []string {
	t.Helper()
	place := func(order []string) map[string]int {
		at := map[string]int{}
		for i, n := range order {
			at[n] = i
		}
		return at
	}
	bySort, byList := place(sorted), place(listed)
	for _, stride := range []int{7, 11, 13, 17, 19, 23, 29, 31, 37} {
		var out []string
		ok := true
		for i := range sorted {
			n := sorted[(i*stride)%len(sorted)]
			if len(out) > 0 {
				prev := out[len(out)-1]
				if bySort[n] == bySort[prev]+1 || byList[n] == byList[prev]+1 {
					ok = false
					break
				}
			}
			out = append(out, n)
		}
		if ok {
			return out
		}
	}
	t.Fatal("no stride gives a random order")
	return nil
}

// A walk repeated through many open timeouts while another client
// rewrites the files in the served directory: every file a walk reads,
// fetched ahead or not, holds what the server had at most open_timeout
// (plus the read's own time) before the read began, never older.
func TestWalksThroughManyTimeoutsWhileTheServerChangesTheFilesSeeNothingStale(t *testing.T) {
	const openTimeout = 300 * time.Millisecond
	// The timed rules (the feed's events would drop what was fetched
	// ahead of each file the server changes: the staleness bound under
	// test is open_timeout's).
	_, log, m := startForeground(t, "-o", "open_timeout=0.3,cache_timeout=2,remote_commands=no")
	dir := filepath.Join(m.remote, "t")
	if err := os.MkdirAll(dir, 0755); err != nil {
		t.Fatal(err)
	}
	const files = 40
	name := func(i int) string { return fmt.Sprintf("f%02d", i) }
	var mu sync.Mutex
	written := make([][]time.Time, files) // when each version was written: version v at written[i][v]
	write := func(i, v int) {
		body := fmt.Sprintf("%s version %d %s\n", name(i), v, strings.Repeat("x", 100+v%50))
		tmp := filepath.Join(dir, "."+name(i)+".tmp")
		if err := os.WriteFile(tmp, []byte(body), 0644); err != nil {
			t.Error(err)
		}
		mu.Lock()
		written[i] = append(written[i], time.Now())
		mu.Unlock()
		if err := os.Rename(tmp, filepath.Join(dir, name(i))); err != nil {
			t.Error(err)
		}
	}
	for i := 0; i < files; i++ {
		write(i, 0)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // another client, writing straight into the served directory
		defer close(done)
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			i := (k * 7) % files
			mu.Lock()
			v := len(written[i])
			mu.Unlock()
			write(i, v)
		}
	}()
	walks, stale, behind := 0, 0, 0
	for start := time.Now(); time.Since(start) < 6*time.Second; walks++ {
		if _, err := os.ReadDir(filepath.Join(m.mnt, "t")); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < files; i++ {
			began := time.Now()
			b, err := os.ReadFile(filepath.Join(m.mnt, "t", name(i)))
			if err != nil {
				t.Fatal(err)
			}
			var got int
			if _, err := fmt.Sscanf(string(b), name(i)+" version %d", &got); err != nil {
				t.Fatalf("%s read %q", name(i), b)
			}
			// The newest version written before began-openTimeout (and
			// some slack for the rename after it) must be seen.
			mu.Lock()
			must := -1
			latest := len(written[i]) - 1
			for v, at := range written[i] {
				if at.Before(began.Add(-openTimeout - 200*time.Millisecond)) {
					must = v
				}
			}
			mu.Unlock()
			if got < latest {
				behind++ // not the newest: allowed within open_timeout
			}
			if got < must {
				stale++
				t.Errorf("walk %d: %s read version %d, but version %d was on the server more than open_timeout before the read", walks, name(i), got, must)
			}
		}
	}
	close(stop)
	<-done
	ahead := strings.Count(log.String(), "fetched ahead")
	t.Logf("%d walks of %d files while the server changed them: %d opens served from bytes fetched ahead, %d reads not of the newest version, %d stale", walks, files, ahead, behind, stale)
	if ahead == 0 {
		t.Fatal("no open was served from bytes fetched ahead: the walk was not exercised")
	}
}

// logged waits until the -d log from byte from on holds n lines with
// what: it comes through a pipe, behind the calls it tells of.
func logged(t *testing.T, log *lockedBuffer, from int, what string, n int) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return strings.Count(log.String()[from:], what) >= n }) {
		t.Fatalf("the log shows %d of %d %q after 10 s", strings.Count(log.String()[from:], what), n, what)
	}
}

// A walk whose next names' types are no longer known (the feed dropped
// what was cached of a name the server changed) asks what each is
// before it fetches it ahead: a FIFO put in a file's place on the server
// is never opened (the open would hold sftp-server's session until a
// writer came, and the walk's calls with it until the connection is
// given up).
func TestAWalkNeverOpensAFIFOPutInAFilesPlaceAhead(t *testing.T) {
	_, log, m := startForeground(t)
	names := makeSourceFiles(t, filepath.Join(m.remote, "src"), 20)
	sh(t, m.mnt, "ls src > /dev/null") // listed, nothing read: the kernel holds no page
	mountFeedUp(t, m.mnt, 20*time.Second)
	fifo := names[8]
	sh(t, filepath.Join(m.remote, "src"), "rm "+fifo+" && mkfifo "+fifo)
	if !waitFor(5*time.Second, func() bool { return strings.Contains(log.String(), fmt.Sprintf("%q: another client's", "/src/"+fifo)) }) {
		t.Fatalf("no event about the FIFO:\n%s", log.String())
	}
	before := len(log.String())
	start := time.Now()
	for _, name := range names[:8] { // a walk in name order, up to the FIFO
		if _, err := shErrWithin(m.mnt, "cat src/"+name+" > /dev/null", 20*time.Second); err != nil {
			t.Fatalf("cat src/%s: %v\n%s", name, err, log.String()[before:])
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("8 files read in %v", took)
	}
	time.Sleep(500 * time.Millisecond) // what was fetched ahead is asked by now
	after := log.String()[before:]
	if strings.Contains(after, "sftp open "+filepath.Join(m.remote, "src", fifo)) || strings.Contains(after, "reconnecting") {
		t.Errorf("the FIFO was opened, or the connection given up:\n%s", after)
	}
	if !strings.Contains(after, "fetched ahead") {
		t.Errorf("no file was fetched ahead of the walk: the test tests nothing:\n%s", after)
	}
}
