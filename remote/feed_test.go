package remote

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/remote/transport"
)

// The change feed's tests run the script against a local directory: the
// client's Config.Exec runs `sh -c COMMAND` here, as sshd would on the
// server, and its SFTP is an in-process server of the same directory.

// feedLog records what a feed tells, in order.
type feedLog struct {
	mu     sync.Mutex
	events []string
	more   chan struct{}
}

func newFeedLog() *feedLog { return &feedLog{more: make(chan struct{}, 1)} }

func (l *feedLog) add(s string) {
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default:
	}
}

func (l *feedLog) Watching(dir string) { l.add(fmt.Sprintf("watching %q", dir)) }
func (l *feedLog) Lost(why string)     { l.add("lost " + why) }
func (l *feedLog) Changed(c Change) {
	d := ""
	if c.IsDir {
		d = " dir"
	}
	l.add(fmt.Sprintf("%s %q %q%s", c.Kind, c.Dir, c.Name, d))
}

// waitFor waits until an event told since from (an index) has prefix
// want, and returns its index; the bound is only against a hang.
func (l *feedLog) waitFor(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		l.mu.Lock()
		for i := from; i < len(l.events); i++ {
			if strings.HasPrefix(l.events[i], want) {
				l.mu.Unlock()
				return i
			}
		}
		l.mu.Unlock()
		select {
		case <-l.more:
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no %q after event %d; told: %q", want, from, l.events)
		}
	}
}

// all is what was told so far, one line each.
func (l *feedLog) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.events, "\n")
}

func (l *feedLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// localExec runs command with sh here, in a process group of its own, as
// sshd runs an exec request; env, if set, is its environment.
func localExec(env []string) Exec {
	return func(ctx context.Context, command string) (io.ReadWriteCloser, error) {
		return startLocal(command, env)
	}
}

func startLocal(command string, env []string) (io.ReadWriteCloser, error) {
	if env == nil {
		return transport.StartCommand([]string{"/bin/sh", "-c", command}, false, func(string) {})
	}
	return transport.StartCommand(append([]string{"/usr/bin/env", "-i"}, append(env, "/bin/sh", "-c", command)...), false, func(string) {})
}

// feedClient is a client of a new directory with the feed started.
func feedClient(t *testing.T, cfg Config) (*Client, *feedLog, string) {
	t.Helper()
	if _, err := exec.LookPath("inotifywait"); err != nil {
		t.Skip("inotifywait not installed (integration/install-deps.sh)")
	}
	dir := t.TempDir()
	srv := pipeStream(realServer(t, dir))
	cfg.Dir = dir
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	c, err := ConnectStream(context.Background(), cfg, srv)
	if err != nil {
		t.Fatal(err)
	}
	l := newFeedLog()
	c.StartFeed(l)
	t.Cleanup(c.Close)
	return c, l, dir
}

func withCommands(env []string) Config {
	return Config{RemoteCommands: true, Exec: localExec(env), Reconnect: true}
}

func TestFeedTellsEachChange(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	must(t, os.Mkdir(filepath.Join(dir, "a dir"), 0o755))
	c.Watch("")
	c.Watch("a dir")
	w1 := l.waitFor(t, 0, `watching ""`)
	w2 := l.waitFor(t, 0, `watching "a dir"`)
	if !strings.HasPrefix(c.FeedStatus(), "up: inotifywait, 2 directories watched") {
		t.Errorf("status %q", c.FeedStatus())
	}
	from := max(w1, w2) + 1

	name := "x y\tz"
	must(t, os.WriteFile(filepath.Join(dir, name), []byte("1"), 0o644))
	from = l.waitFor(t, from, fmt.Sprintf(`name "" %q`, name))
	from = l.waitFor(t, from, fmt.Sprintf(`data "" %q`, name))
	must(t, os.Chmod(filepath.Join(dir, name), 0o600))
	from = l.waitFor(t, from, fmt.Sprintf(`attr "" %q`, name))
	nl := "new\nline"
	must(t, os.Rename(filepath.Join(dir, name), filepath.Join(dir, "a dir", nl)))
	from = l.waitFor(t, from, fmt.Sprintf(`name "" %q`, name))
	from = l.waitFor(t, from, fmt.Sprintf(`name "a dir" %q`, nl))
	must(t, os.Remove(filepath.Join(dir, "a dir", nl)))
	from = l.waitFor(t, from, fmt.Sprintf(`name "a dir" %q`, nl))
	must(t, os.Mkdir(filepath.Join(dir, "a dir", "sub"), 0o755))
	from = l.waitFor(t, from, `name "a dir" "sub" dir`)
	must(t, os.Remove(filepath.Join(dir, "a dir", "sub")))
	from = l.waitFor(t, from, `name "a dir" "sub" dir`)
	must(t, os.Remove(filepath.Join(dir, "a dir")))
	l.waitFor(t, from, `dir-gone "a dir"`)
	l.waitFor(t, from, `name "" "a dir" dir`)
	if s := l.all(); strings.Contains(s, "lost") {
		t.Errorf("lost: %s", s)
	}
}

// A change made right after Watching is told after it; nothing about a
// directory comes before its Watching.
func TestFeedWatchingBeforeChanges(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	for i := range 5 {
		d := fmt.Sprintf("d%d", i)
		must(t, os.Mkdir(filepath.Join(dir, d), 0o755))
		c.Watch(d)
		at := l.waitFor(t, 0, fmt.Sprintf("watching %q", d))
		must(t, os.WriteFile(filepath.Join(dir, d, "f"), nil, 0o644))
		if got := l.waitFor(t, 0, fmt.Sprintf(`name %q "f"`, d)); got < at {
			t.Errorf("change in %s told before its Watching: %s", d, l.all())
		}
	}
}

// Directories asked one at a time go into few inotifywait processes, and
// every one of them is still watched.
func TestFeedMergesWatchers(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	const n = 40
	for i := range n {
		d := fmt.Sprintf("d%02d", i)
		must(t, os.Mkdir(filepath.Join(dir, d), 0o755))
		c.Watch(d)
		l.waitFor(t, 0, fmt.Sprintf("watching %q", d))
		if p := len(c.feedPids()); p > feedMaxWatchers+1 {
			t.Fatalf("%d inotifywait processes for %d directories", p, i+1)
		}
	}
	from := l.len()
	for i := range n {
		d := fmt.Sprintf("d%02d", i)
		must(t, os.WriteFile(filepath.Join(dir, d, "f"), nil, 0o644))
		l.waitFor(t, from, fmt.Sprintf(`name %q "f"`, d))
	}
	t.Logf("%d directories in %d processes; status %q", n, len(c.feedPids()), c.FeedStatus())
	if !strings.HasPrefix(c.FeedStatus(), fmt.Sprintf("up: inotifywait, %d directories watched", n)) {
		t.Errorf("status %q", c.FeedStatus())
	}
	if s := l.all(); strings.Contains(s, "lost") {
		t.Errorf("lost: %s", s)
	}
}

// An inotifywait killed on the server: Lost, then every directory
// watched again.
func TestFeedWatcherKilled(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	must(t, os.Mkdir(filepath.Join(dir, "a"), 0o755))
	c.Watch("")
	c.Watch("a")
	l.waitFor(t, 0, `watching ""`)
	l.waitFor(t, 0, `watching "a"`)
	pids := c.feedPids()
	if len(pids) == 0 {
		t.Fatal("no inotifywait pid told")
	}
	for _, p := range pids {
		killPid(t, p)
	}
	lost := l.waitFor(t, 0, "lost the watcher ended")
	l.waitFor(t, lost, `watching ""`)
	l.waitFor(t, lost, `watching "a"`)
	must(t, os.WriteFile(filepath.Join(dir, "a", "f"), nil, 0o644))
	l.waitFor(t, lost, `name "a" "f"`)
}

func killPid(t *testing.T, pid string) {
	t.Helper()
	var n int
	fmt.Sscan(pid, &n)
	if n <= 1 {
		t.Fatalf("pid %q", pid)
	}
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// A directory gone before its watch: DirGone, and the others of its
// batch watched all the same.
func TestFeedDirGoneBeforeWatch(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	must(t, os.Mkdir(filepath.Join(dir, "b"), 0o755))
	c.Watch("missing")
	c.Watch("b")
	l.waitFor(t, 0, `dir-gone "missing"`)
	l.waitFor(t, 0, `watching "b"`)
	must(t, os.WriteFile(filepath.Join(dir, "b", "f"), nil, 0o644))
	l.waitFor(t, 0, `name "b" "f"`)
}

// Directory names as the shell's read and inotifywait's --fromfile must
// keep them: spaces at either end, backslashes, a leading @ or dash.
func TestFeedOddDirectoryNames(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	names := []string{" lead", "trail ", `back\slash`, `\n`, "@at", "-dash", "tab\t", "ünï"}
	for _, n := range names {
		must(t, os.Mkdir(filepath.Join(dir, n), 0o755))
		c.Watch(n)
	}
	for _, n := range names {
		l.waitFor(t, 0, fmt.Sprintf("watching %q", n))
		must(t, os.WriteFile(filepath.Join(dir, n, "f"), nil, 0o644))
		l.waitFor(t, 0, fmt.Sprintf(`name %q "f"`, n))
	}
	if s := l.all(); strings.Contains(s, "lost") {
		t.Errorf("lost: %s", s)
	}
}

// Over the limit, directories are not watched and the status says how
// many.
func TestFeedLimit(t *testing.T) {
	old := feedMaxDirs
	feedMaxDirs = 3
	defer func() { feedMaxDirs = old }()
	c, l, dir := feedClient(t, withCommands(nil))
	for i := range 5 {
		d := fmt.Sprintf("d%d", i)
		must(t, os.Mkdir(filepath.Join(dir, d), 0o755))
		c.Watch(d)
	}
	c.Watch("new\nline")
	l.waitFor(t, 0, "watching")
	deadline := time.Now().Add(30 * time.Second)
	want := "up: inotifywait, 3 directories watched; 2 directories not watched: the limit of 3; 1 directories not watched: a newline in the path, or a path too long"
	for c.FeedStatus() != want {
		if time.Now().After(deadline) {
			t.Fatalf("status %q, want %q", c.FeedStatus(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFeedNoInotifywait(t *testing.T) {
	c, _, _ := feedClient(t, withCommands([]string{"PATH=" + t.TempDir()}))
	waitStatus(t, c, "off: inotifywait not found on the server")
}

func TestFeedRemoteCommandsNo(t *testing.T) {
	cfg := withCommands(nil)
	cfg.RemoteCommands = false
	c, _, _ := feedClient(t, cfg)
	waitStatus(t, c, "off: -o remote_commands=no")
}

// ForceCommand internal-sftp runs the SFTP server in place of any
// command: OpenSSH's sftp-server stands for it.
func TestFeedExecRefused(t *testing.T) {
	if _, err := os.Stat("/usr/lib/openssh/sftp-server"); err != nil {
		t.Skip("no OpenSSH sftp-server")
	}
	cfg := withCommands(nil)
	cfg.Exec = func(ctx context.Context, command string) (io.ReadWriteCloser, error) {
		return startLocal("exec /usr/lib/openssh/sftp-server", nil)
	}
	c, _, _ := feedClient(t, cfg)
	c.Watch("")
	waitStatus(t, c, "off: the server runs no commands (exec refused: ForceCommand internal-sftp?); the command exited")
}

func waitStatus(t *testing.T, c *Client, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.HasPrefix(c.FeedStatus(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("status %q, want %q", c.FeedStatus(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("status %q", c.FeedStatus())
}

// fakeInotifywait puts on a new PATH an inotifywait that says its
// watches are established, prints what a watcher given by script prints
// the first time, and then waits as a quiet one.
func fakeInotifywait(t *testing.T, first string) []string {
	bin := t.TempDir()
	once := filepath.Join(bin, "once")
	fake := "#!/bin/sh\ncat >/dev/null\necho Setting up watches. >&2\necho Watches established. >&2\n" +
		"if [ ! -e " + once + " ]; then : >" + once + "; " + first + "; fi\nexec sleep 3600\n"
	must(t, os.WriteFile(filepath.Join(bin, "inotifywait"), []byte(fake), 0o755))
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
}

// inotifywait 3.22 drops the kernel's IN_Q_OVERFLOW (it prints nothing
// for it): a watcher that does print it is taken at its word.
func TestFeedOverflow(t *testing.T) {
	c, l, _ := feedClient(t, withCommands(fakeInotifywait(t, `printf "\0\0Q_OVERFLOW\n"`)))
	c.Watch("")
	l.waitFor(t, 0, `watching ""`)
	lost := l.waitFor(t, 0, "lost overflow")
	l.waitFor(t, lost, `watching ""`)
}

// A real burst: more events at once than an inotify queue holds
// (max_queued_events; inotifywait would not say if it overflowed) is
// taken for an overflow: Lost, and every directory watched again.
func TestFeedBurstIsAnOverflow(t *testing.T) {
	c, l, dir := feedClient(t, withCommands(nil))
	queued := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(b), &queued)
	}
	c.Watch("")
	l.waitFor(t, 0, `watching ""`)
	// Each file: CREATE and CLOSE_WRITE.
	for i := range queued/2 + 100 {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), nil, 0o644))
	}
	lost := l.waitFor(t, 0, "lost overflow possible")
	l.waitFor(t, lost, `watching ""`)
}

func TestFeedLineNotUnderstood(t *testing.T) {
	c, l, _ := feedClient(t, withCommands(fakeInotifywait(t, `printf "rubbish\n"`)))
	c.Watch("")
	l.waitFor(t, 0, `watching ""`)
	lost := l.waitFor(t, 0, `lost a line not understood: "rubbish"`)
	l.waitFor(t, lost, `watching ""`)
}

// The script, at the end of its stdin or at a signal, ends every
// inotifywait it started and only then exits.
func TestFeedScriptEndsItsWatchers(t *testing.T) {
	if _, err := exec.LookPath("inotifywait"); err != nil {
		t.Skip("inotifywait not installed")
	}
	for _, how := range []string{"eof", "hup", "term", "k"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("/bin/sh", "-c", feedCommand)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			in, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			must(t, cmd.Start())
			defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group, on failure
			fmt.Fprintf(in, "hello\ns 1\n%s\n\ns 2\n%s\n\n", dir, dir)
			br := bufio.NewReader(out)
			// By watcher ID: the two start at once, and may say "P" in
			// either order.
			pidOf, spidOf := map[string]string{}, map[string]string{}
			est := 0
			for est < 2 || len(pidOf) < 2 || len(spidOf) < 2 {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("%v after %q", err, line)
				}
				f := strings.Fields(line)
				switch {
				case len(f) == 3 && f[0] == "P":
					pidOf[f[1]] = f[2]
				case len(f) == 3 && f[0] == "S":
					spidOf[f[1]] = f[2]
				case strings.TrimSpace(line) == "Watches established.":
					est++
				}
			}
			pids, spids := []string{pidOf["1"], pidOf["2"]}, []string{spidOf["1"], spidOf["2"]}
			for _, p := range pids {
				if _, err := os.Stat("/proc/" + p); err != nil {
					t.Fatalf("inotifywait %s not running: %v", p, err)
				}
			}
			switch how {
			case "eof":
				in.Close()
			case "hup":
				cmd.Process.Signal(syscall.SIGHUP)
			case "term":
				cmd.Process.Signal(syscall.SIGTERM)
			case "k":
				// One watcher ended on request; the other lives on.
				fmt.Fprintf(in, "k %s\n", spids[0])
				waitGone(t, pids[0])
				if _, err := os.Stat("/proc/" + pids[1]); err != nil {
					t.Fatalf("the other inotifywait %s ended too", pids[1])
				}
				in.Close()
			}
			io.Copy(io.Discard, br)
			cmd.Wait()
			for _, p := range pids {
				if _, err := os.Stat("/proc/" + p); err == nil {
					t.Errorf("inotifywait %s still there after the script ended", p)
				}
			}
		})
	}
}

func waitGone(t *testing.T, pid string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still running", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// feedPids are the inotifywait processes the script says are running.
func (c *Client) feedPids() []string {
	f := c.getFeed()
	f.mu.Lock()
	defer f.mu.Unlock()
	var p []string
	for pid := range f.pids {
		p = append(p, pid)
	}
	return p
}

// The feed writes nothing on the server: its directory lists go to
// inotifywait through a pipe, not a temporary file. With TMPDIR a
// directory that does not exist, a mktemp would fail and no watch start.
func TestFeedWritesNoFileOnTheServer(t *testing.T) {
	c, l, dir := feedClient(t, withCommands([]string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + filepath.Join(t.TempDir(), "none")}))
	must(t, os.Mkdir(filepath.Join(dir, "a"), 0o755))
	c.Watch("")
	c.Watch("a")
	l.waitFor(t, 0, `watching ""`)
	l.waitFor(t, 0, `watching "a"`)
	must(t, os.WriteFile(filepath.Join(dir, "a", "f"), []byte("1"), 0o644))
	l.waitFor(t, 0, `name "a" "f"`)
}
