//go:build linux

package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badStart is one row of the bad-input table: what the user typed, the
// exit code (see cmd/sftpmount/exitcodes.go and the README) and words the
// one line on stderr must contain.
type badStart struct {
	name  string
	code  int
	words []string
	// args builds the command line for a served directory and a
	// mountpoint; wrap, if set, runs the command another way.
	args func(t *testing.T, served, mnt string) []string
	wrap func(t *testing.T, cmdline []string) []string
	// mnt prepares the mountpoint (default: a fresh empty directory).
	mnt   func(t *testing.T) string
	limit time.Duration // how long the refusal may take (default 10 s)
}

func TestBadInputGetsOneLineANamedExitCodeAndChangesNothing(t *testing.T) {
	needServer(t)
	closedPort, _ := freePort()
	silent := silentListener(t)
	dir := t.TempDir()
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f stranger && ssh-keygen -q -t ed25519 -N '' -f other")
	emptyKnown := filepath.Join(dir, "empty_known_hosts")
	writeFile(t, emptyKnown, "", 0644)
	changedKnown := filepath.Join(dir, "changed_known_hosts")
	writeFile(t, changedKnown, "[127.0.0.1]:"+strconv.Itoa(server.port)+" "+readFile(t, filepath.Join(dir, "other.pub")), 0644)

	std := func(extra ...string) func(*testing.T, string, string) []string {
		return func(_ *testing.T, served, mnt string) []string {
			return append(append([]string{remoteSpec(served), mnt}, standardArgs()...), extra...)
		}
	}
	withOpts := func(spec func(served string) string, port int, opts string) func(*testing.T, string, string) []string {
		return func(_ *testing.T, served, mnt string) []string {
			return []string{spec(served), mnt, "-p", strconv.Itoa(port), "-o", opts}
		}
	}
	root := func(served string) string { return remoteSpec(served) }
	keyOpts := "IdentityFile=" + server.userKey + ",UserKnownHostsFile="

	rows := []badStart{
		{name: "unknown host name", code: 4, words: []string{"no-such-host.invalid"},
			args: withOpts(func(s string) string { return "root@no-such-host.invalid:" + s }, 22, keyOpts+server.knownHosts+",ConnectTimeout=5")},
		{name: "connection refused", code: 4, words: []string{"connection refused", strconv.Itoa(closedPort)},
			args: withOpts(root, closedPort, keyOpts+server.knownHosts)},
		{name: "connect timeout", code: 4, words: []string{"no answer within 2s", "ConnectTimeout"}, limit: 6 * time.Second,
			args: withOpts(root, silent, keyOpts+server.knownHosts+",ConnectTimeout=2")},
		{name: "sftp subsystem never answers after login", code: 4, words: []string{"start sftp subsystem", "after login", "ConnectTimeout"}, limit: 6 * time.Second,
			args: func(t *testing.T, served, mnt string) []string {
				stalled := stalledSubsystemServer(t)
				return []string{testUser + "@127.0.0.1:" + served, mnt, "-p", strconv.Itoa(stalled.port),
					"-o", "IdentityFile=" + stalled.userKey + ",UserKnownHostsFile=" + stalled.knownHosts + ",ConnectTimeout=2"}
			}},
		{name: "wrong key", code: 6, words: []string{"authentication as root", "failed"},
			args: withOpts(root, server.port, "IdentityFile="+filepath.Join(dir, "stranger")+",UserKnownHostsFile="+server.knownHosts)},
		{name: "host key unknown, no terminal", code: 5, words: []string{"unknown", "ssh-keyscan"},
			args: withOpts(root, server.port, keyOpts+emptyKnown)},
		{name: "host key changed", code: 5, words: []string{"CHANGED", "ssh-keygen -R"},
			args: withOpts(root, server.port, keyOpts+changedKnown)},
		{name: "remote directory missing", code: 7, words: []string{"no such directory"},
			args: func(_ *testing.T, served, mnt string) []string {
				return append([]string{remoteSpec(served + "/missing"), mnt}, standardArgs()...)
			}},
		{name: "remote path is a file", code: 7, words: []string{"not a directory"},
			args: func(_ *testing.T, served, mnt string) []string {
				return append([]string{remoteSpec(served + "/file"), mnt}, standardArgs()...)
			}},
		{name: "mountpoint missing", code: 3, words: []string{"no such directory"}, args: std(),
			mnt: func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") }},
		{name: "mountpoint is a file", code: 3, words: []string{"not a directory"}, args: std(),
			mnt: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "file")
				writeFile(t, f, "", 0644)
				return f
			}},
		{name: "mountpoint already mounted", code: 3, words: []string{"already in use", "fusermount3 -u"}, args: std(),
			mnt: func(t *testing.T) string { return mount(t).mnt }},
		{name: "mountpoint not empty", code: 3, words: []string{"not empty", "nonempty"}, args: std(),
			mnt: func(t *testing.T) string {
				m := newMountpoint(t)
				writeFile(t, filepath.Join(m, "local-file"), "keep me", 0644)
				t.Cleanup(func() { os.Remove(filepath.Join(m, "local-file")) })
				return m
			}},
		{name: "bad option", code: 2, words: []string{"frobnicate"}, args: std("-o", "frobnicate=1")},
		{name: "bad port", code: 2, words: []string{"99999", "port"},
			args: func(_ *testing.T, served, mnt string) []string {
				return []string{remoteSpec(served), mnt, "-p", "99999"}
			}},
		// The transports without our SSH (streams_test.go).
		{name: "ssh_command speaks broken SFTP", code: 4, words: []string{"ssh_command", "no SFTP answer", "packet too long"},
			args: func(t *testing.T, served, mnt string) []string {
				return []string{remoteSpec(served), mnt, "-o", "ssh_command=" + brokenSFTP(t)}
			}},
		{name: "ssh_command whose reply is cut short", code: 4, words: []string{"ssh_command", "no SFTP answer", "connect timeout"},
			limit: 6 * time.Second,
			args: func(t *testing.T, served, mnt string) []string {
				return []string{remoteSpec(served), mnt, "-o", "ConnectTimeout=2,ssh_command=" + cutShortSFTP(t)}
			}},
		{name: "directport with nothing listening", code: 4, words: []string{"directport", strconv.Itoa(closedPort), "refused"},
			args: func(_ *testing.T, served, mnt string) []string {
				return []string{"127.0.0.1:" + served, mnt, "-o", "directport=" + strconv.Itoa(closedPort)}
			}},
		{name: "directport not a port", code: 2, words: []string{"directport=ssh", "port"}, args: std("-o", "directport=ssh")},
		{name: "empty ssh_command", code: 2, words: []string{"ssh_command", "value"}, args: std("-o", "ssh_command=")},
		{name: "ssh_protocol 1", code: 2, words: []string{"ssh_protocol", "protocol 2"}, args: std("-o", "ssh_protocol=1")},
		{name: "passive with a value", code: 2, words: []string{"passive", "no value"}, args: std("-o", "passive=yes")},
		{name: "directport zero", code: 2, words: []string{"directport=0", "port"}, args: std("-o", "directport=0")},
		{name: "directport past 65535", code: 2, words: []string{"directport=70000", "port"}, args: std("-o", "directport=70000")},
		{name: "blank ssh_command", code: 2, words: []string{"ssh_command", "command"}, args: std("-o", "ssh_command=  ")},
		{name: "directport with an ssh key", code: 2, words: []string{"directport", "IdentityFile", "SSH connection"}, args: std("-o", "directport=2222,IdentityFile=/k")},
		{name: "passive with password_stdin", code: 2, words: []string{"passive", "password_stdin"}, args: std("-o", "passive,password_stdin")},
		{name: "ssh_command with directport", code: 2, words: []string{"ssh_command", "directport", "together"},
			args: std("-o", "ssh_command=ssh,directport=2222")},
		{name: "no /dev/fuse", code: 8, words: []string{"/dev/fuse", "modprobe fuse"}, args: std(), wrap: withoutFuseDevice},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) { row.check(t) })
	}
}

func (row badStart) check(t *testing.T) {
	served := newServedDir(t, "root")
	writeFile(t, filepath.Join(served, "file"), "remote data", 0640)
	os.Mkdir(filepath.Join(served, "sub"), 0755)
	mnt := newMountpoint(t)
	if row.mnt != nil {
		mnt = row.mnt(t)
	}
	remoteBefore, localBefore := snapshot(t, served), snapshot(t, mnt)
	wasMounted, procsBefore := isMounted(mnt), processesServing(mnt)

	cmdline := append([]string{binary}, row.args(t, served, mnt)...)
	if row.wrap != nil {
		cmdline = row.wrap(t, cmdline)
	}
	r := runProgram(t, home(t), "", cmdline...)
	limit := row.limit
	if limit == 0 {
		limit = 10 * time.Second
	}
	if r.code != row.code {
		t.Fatalf("exit code %d, want %d; stderr: %q", r.code, row.code, r.stderr)
	}
	if lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "sftpmount: ") {
		t.Fatalf("want one line on stderr, got %q", r.stderr)
	}
	t.Logf("exit %d in %v: %s", r.code, r.took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	for _, w := range row.words {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("message lacks %q: %s", w, r.stderr)
		}
	}
	if r.took > limit {
		t.Errorf("took %v, limit %v", r.took.Round(time.Millisecond), limit)
	}
	if isMounted(mnt) != wasMounted {
		t.Errorf("mount state of %s changed (was mounted: %v)", mnt, wasMounted)
	}
	if procs := processesServing(mnt); len(procs) != len(procsBefore) {
		t.Errorf("processes serving %s: before %v, after %v", mnt, procsBefore, procs)
	}
	if after := snapshot(t, served); after != remoteBefore {
		t.Errorf("the remote directory changed:\nbefore %s\nafter  %s", remoteBefore, after)
	}
	if after := snapshot(t, mnt); after != localBefore {
		t.Errorf("the mountpoint changed:\nbefore %s\nafter  %s", localBefore, after)
	}
}

// snapshot describes a tree (names, modes, sizes, mtimes, contents) so a
// refusal can be shown to have touched nothing.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var entries []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			entries = append(entries, p+": "+err.Error())
			return nil
		}
		e := fmt.Sprintf("%s %v %d %d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			e += " " + string(data)
		}
		entries = append(entries, e)
		return nil
	})
	sort.Strings(entries)
	return strings.Join(entries, "; ")
}

// stalledSubsystemServer is an sshd whose SFTP subsystem starts and never
// speaks, as when the login shell's startup file waits on a lock or a
// prompt; only for 10 s, as sshd may orphan it before the cleanup looks.
// It serves testUser, whose shell (/bin/sh) reads no startup file.
func stalledSubsystemServer(t *testing.T) *sshServer {
	// Not t.TempDir (0700): sshd reads authorized_keys as the user.
	dir, err := os.MkdirTemp("", "stalled-subsystem")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0755)
	stall := filepath.Join(dir, "stall")
	writeFile(t, stall, "#!/bin/sh\nexec sleep 10\n", 0755)
	srv, err := startSSHDWith(filepath.Join(dir, "sshd"), func(*sshServer) (string, error) {
		return "Subsystem sftp " + stall + "\n", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	return srv
}

// silentListener accepts connections and never says a word, like a
// firewalled or hung server: the SSH handshake can only time out.
func silentListener(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// withoutFuseDevice runs the command in a mount namespace of its own where
// /dev/fuse is an ordinary empty file, as on a machine without FUSE.
func withoutFuseDevice(t *testing.T, cmdline []string) []string {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is needed for this test")
	}
	empty := filepath.Join(t.TempDir(), "not-a-device")
	writeFile(t, empty, "", 0644)
	quoted := make([]string, len(cmdline))
	for i, a := range cmdline {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return []string{"unshare", "-m", "sh", "-c", "mount --bind " + empty + " /dev/fuse && exec " + strings.Join(quoted, " ")}
}

func TestNonemptyOptionMountsOverFilesAndHidesThemUntilUnmounted(t *testing.T) {
	needServer(t)
	mnt := newMountpoint(t)
	writeFile(t, filepath.Join(mnt, "local-file"), "hidden", 0644)
	t.Cleanup(func() { os.Remove(filepath.Join(mnt, "local-file")) })
	served := newServedDir(t, "root")
	mountedBy(t, runBinary(t, home(t), append([]string{remoteSpec(served), mnt}, append(standardArgs(), "-o", "nonempty")...)...), mnt, served, "root")
	if _, err := os.Stat(filepath.Join(mnt, "local-file")); err == nil {
		t.Fatal("the local file shows through the mount")
	}
}

// A value refused is shown in its one line with its control characters as
// text: an escape sequence given in -o (or a newline faking a second
// line) never reaches the terminal.
func TestARefusedOptionValueReachesTheTerminalAsText(t *testing.T) {
	r := runBinary(t, nil, "host:", t.TempDir(), "-o", "umask=\x1b]0;owned\x07\nsftpmount: mounted")
	if r.code != 2 {
		t.Fatalf("exit %d: %q", r.code, r.stderr)
	}
	if strings.ContainsAny(r.stderr, "\x1b\x07") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stderr carries control characters or more than one line: %q", r.stderr)
	}
}
