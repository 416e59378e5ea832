//go:build linux

package integration

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	// The kernel asks for readdirplus (names with their attributes) for
	// a listing's first batch, and for each next one while ls stats the
	// names: the attributes come with the listing, whatever the size of
	// the attribute cache.
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
	if os.Getenv("SFTPMOUNT_BIGDIR_HEAP") != "" {
		cmd.Process.Signal(syscall.SIGQUIT) // the heap profile's path goes to the log
		time.Sleep(2 * time.Second)
		for _, l := range strings.Split(log.String(), "\n") {
			if strings.Contains(l, "heap profile in") {
				t.Log(l)
			}
		}
	}
	if kib > 400<<10 {
		t.Errorf("the mount's peak resident memory was %d MiB, want at most 400", kib>>10)
	}
	count("rm -r d && echo 0")
	if _, err := os.Stat(filepath.Join(m.remote, "d")); !os.IsNotExist(err) {
		t.Fatalf("d still on the server after rm -r: %v", err)
	}
}

// getdentsScript reads directory argv[1] a few entries at a time with
// getdents64, printing each name. After 200 names it prints "paused" and
// reads a line of names from stdin; it then reads on, and before each
// getdents64 looks one of those names up, which has the kernel ask for
// the next batch with attributes (readdirplus).
const getdentsScript = `
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
buf = ctypes.create_string_buffer(1024)
seen, paused = [], False
while True:
    n = libc.syscall(217, fd, buf, len(buf))
    if n < 0:
        print("getdents64:", os.strerror(ctypes.get_errno()), flush=True)
        sys.exit(1)
    if n == 0:
        break
    off = 0
    while off < n:
        reclen = struct.unpack_from("H", buf.raw, off + 16)[0]
        name = buf.raw[off + 19:off + reclen].split(b"\0")[0].decode()
        off += reclen
        if name not in (".", ".."):
            seen.append(name)
            print(name, flush=True)
    if not paused and len(seen) >= 200:
        paused = True
        print("paused", flush=True)
        probes = sys.stdin.readline().split()
    if paused and probes:
        os.lstat(os.path.join(sys.argv[1], probes.pop()))
print("end", flush=True)
`

// A listing's batches can wait in the mount while their reader pauses.
// The kernel takes the later ones with attributes (readdirplus) while
// the reader looks names up: a name renamed away through the mount
// meanwhile must not come back with them, or `mkdir -p` of it would find
// it and a file made in it would fail. Read in small steps, the listing
// pauses; every other name it has not shown yet is renamed away through
// the mount; then it reads on, looking up the names left in place.
func TestNamesRenamedAwayWhileTheirListingIsReadStayGone(t *testing.T) {
	m := mount(t)
	const n = 3000
	sh(t, m.remote, "mkdir d && cd d && seq -f 'f%04g' 1 "+strconv.Itoa(n)+" | xargs touch")
	cmd := exec.Command("python3", "-c", getdentsScript, filepath.Join(m.mnt, "d"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	seen := map[string]bool{}
	for lines.Scan() && lines.Text() != "paused" {
		seen[lines.Text()] = true
	}
	if len(seen) < 200 || len(seen) > n/2 {
		t.Fatalf("the listing paused after %d names, want a small part of %d", len(seen), n)
	}
	var moved, stay []string
	movedSet := map[string]bool{}
	for i := 1; i <= n; i++ {
		switch name := fmt.Sprintf("f%04d", i); {
		case seen[name]:
		case len(moved) <= len(stay):
			moved = append(moved, name)
			movedSet[name] = true
		default:
			stay = append(stay, name)
		}
	}
	sh(t, m.mnt, "mkdir e && cd d && mv "+strings.Join(moved, " ")+" ../e/")
	fmt.Fprintln(stdin, strings.Join(stay, " "))
	// The names the listing still shows were fetched before the moves
	// and waited in the mount.
	var late []string
	for lines.Scan() && lines.Text() != "end" {
		if movedSet[lines.Text()] {
			late = append(late, lines.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the listing failed: %v", err)
	}
	if len(late) == 0 {
		t.Fatal("the listing showed no moved name after its pause: no batch waited in the mount")
	}
	t.Logf("%d names moved away, %d of them still shown by the listing", len(moved), len(late))
	// A name a late batch linked back would be found by lstat, and
	// mkdir -p would take it for the directory.
	for _, name := range late {
		if _, err := os.Lstat(filepath.Join(m.mnt, "d", name)); !os.IsNotExist(err) {
			t.Fatalf("d/%s, renamed away through the mount, is still seen: %v", name, err)
		}
	}
	for _, name := range stay[:100] {
		if _, err := os.Lstat(filepath.Join(m.mnt, "d", name)); err != nil {
			t.Fatalf("d/%s, left in place: %v", name, err)
		}
	}
	sh(t, m.mnt, "mkdir -p d/"+late[0]+" && echo x > d/"+late[0]+"/a")
	if got := readFile(t, filepath.Join(m.remote, "d", late[0], "a")); got != "x\n" {
		t.Fatalf("d/%s/a on the server holds %q", late[0], got)
	}
	if _, err := os.Stat(filepath.Join(m.remote, "e", late[0])); err != nil {
		t.Fatalf("the renamed file is not in e on the server: %v", err)
	}
}

// A directory holding more than dir_nodes names hands the older nodes
// back to the kernel, which forgets them (or, on kernels before 6.17,
// drops their names). What a process sees must not change: every name
// keeps its inode number, sizes and modes are the server's, a file held
// open meanwhile reads and keeps its number, a change made on the server
// shows after the cache timeout, and a name removed through the mount
// is gone on the server.
func TestAHugeDirectoryHandsOldNodesBackAndEveryNameKeepsItsIdentity(t *testing.T) {
	const n, keep = 3000, 400
	_, log, m := startForeground(t, "-o", "dir_nodes="+strconv.Itoa(keep)+",cache_timeout=2")
	sh(t, m.remote, "mkdir d")
	for i := 1; i <= n; i++ {
		writeFile(t, filepath.Join(m.remote, "d", fmt.Sprintf("f%04d", i)), strings.Repeat("x", i%53), os.FileMode(0600|(i%3)<<3))
	}
	held, err := os.Open(filepath.Join(m.mnt, "d", "f0007"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	statAll := func() string { return sh(t, m.mnt, "stat -c '%n %i %s %a' d/* | sort") }
	first := statAll()
	if got := strings.Count(first, "\n"); got != n {
		t.Fatalf("stat listed %d names, want %d", got, n)
	}
	// The sizes and modes are the server's.
	served := sh(t, m.remote, "stat -c '%n %s %a' d/* | sort")
	if strip := stripInos(first); strip != served {
		t.Fatalf("sizes and modes through the mount differ from the server's:\n%s", firstDiff(strip, served))
	}
	// A second pass looks up again the names handed back after the first.
	if again := statAll(); again != first {
		t.Fatalf("after the nodes were handed back, a name's number, size or mode changed:\n%s", firstDiff(again, first))
	}
	logged(t, log, 0, "nodes of \"/d\"", 2)
	// The kernel forgot: the directory held fewer nodes at some batch
	// than it has names, though every name was looked up twice.
	least := n
	for _, l := range strings.Split(log.String(), "\n") {
		if i := strings.Index(l, `nodes of "/d", which held `); i >= 0 {
			if held, err := strconv.Atoi(strings.TrimSpace(l[i+len(`nodes of "/d", which held `):])); err == nil {
				least = min(least, held)
			}
		}
	}
	if least >= n {
		t.Fatalf("the directory never held fewer than its %d names' nodes: the kernel forgot none", n)
	}
	t.Logf("least nodes held in the directory at a batch: %d of %d names", least, n)
	var st syscall.Stat_t
	if err := syscall.Fstat(int(held.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, fmt.Sprintf("d/f0007 %d ", st.Ino)) {
		t.Errorf("the file held open has number %d, not the one its name shows", st.Ino)
	}
	if b, err := io.ReadAll(held); err != nil || string(b) != strings.Repeat("x", 7) {
		t.Errorf("the file held open reads %q, %v", b, err)
	}
	// A change on the server shows after the cache timeout.
	sh(t, m.remote, "echo changed on the server > d/f0001 && chmod 0644 d/f0001")
	if !waitFor(10*time.Second, func() bool {
		return sh(t, m.mnt, "stat -c '%s %a' d/f0001") == "22 644\n"
	}) {
		t.Errorf("a change on the server to a name handed back never showed: %s", sh(t, m.mnt, "stat -c '%s %a' d/f0001"))
	}
	sh(t, m.mnt, "rm d/f0002 d/f2999")
	for _, name := range []string{"f0002", "f2999"} {
		if _, err := os.Lstat(filepath.Join(m.remote, "d", name)); !os.IsNotExist(err) {
			t.Errorf("%s removed through the mount is still on the server: %v", name, err)
		}
	}
	if got := strings.TrimSpace(sh(t, m.mnt, "ls d | wc -l")); got != strconv.Itoa(n-2) {
		t.Errorf("ls after two removals: %s names, want %d", got, n-2)
	}
}

// stripInos drops the second field (the inode number) of each line.
func stripInos(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Fields(l)
		out = append(out, strings.Join(append(f[:1:1], f[2:]...), " "))
	}
	return strings.Join(out, "\n") + "\n"
}

// firstDiff is the first line where a and b differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: %q against %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
}
