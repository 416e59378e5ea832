package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	sftpfs "github.com/sftpmount/sftpmount/fs"
	"github.com/sftpmount/sftpmount/remote"
)

// The control socket: a mount answers `sftpmount status` and `sftpmount
// sync` on a unix socket named after its mountpoint, in a directory of
// the user's alone, and answers only that user's processes and root's.

// controlDir is where a mount's control socket goes:
// $XDG_RUNTIME_DIR/sftpmount, or else sftpmount-UID in the temporary
// directory.
func controlDir() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return filepath.Join(dir, "sftpmount")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("sftpmount-%d", os.Getuid()))
}

// privateControlPattern names the directories a mount makes for itself
// (mkdtemp) when controlDir is not the user's alone: another user can
// make /tmp/sftpmount-0 first.
func privateControlPattern() string { return fmt.Sprintf("sftpmount-%d.*", os.Getuid()) }

// controlSockets are where a mount at mountpoint may answer, in the
// order they are tried: in controlDir, then in the private directories.
// Only those in directories of this user's alone are given.
func controlSockets(mountpoint string) []string {
	sum := sha256.Sum256([]byte(filepath.Clean(mountpoint)))
	name := fmt.Sprintf("%x.sock", sum[:8])
	dirs := []string{controlDir()}
	private, _ := filepath.Glob(filepath.Join(os.TempDir(), privateControlPattern()))
	dirs = append(dirs, private...)
	var out []string
	for _, d := range dirs {
		if cache.OwnDir(d) == nil {
			out = append(out, filepath.Join(d, name))
		}
	}
	return out
}

// serveControl answers status and sync on the mount's control socket
// until the returned stop is called. The socket's directory is made
// 0700 and the socket 0600, whatever the umask; a directory in the way
// that is not the user's alone is named in one line (say) and one of the
// mount's own is made instead.
func serveControl(mountpoint string, f *sftpfs.FS, rc *remote.Client, transport string, say func(string)) (stop func(), err error) {
	dir, removeDir, err := ownControlDir(say)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(filepath.Clean(mountpoint)))
	path := filepath.Join(dir, fmt.Sprintf("%x.sock", sum[:8]))
	for _, other := range controlSockets(mountpoint) {
		if c, err := net.Dial("unix", other); err == nil {
			c.Close()
			removeDir()
			return nil, fmt.Errorf("%s: another sftpmount answers there", other)
		}
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		if l != nil {
			l.Close()
		}
		removeDir()
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go answerControl(c, f, rc, transport)
		}
	}()
	return func() { l.Close(); os.Remove(path); removeDir() }, nil
}

// ownControlDir makes controlDir (0700) and checks it is the user's
// alone, or else makes a private one; remove removes the private one.
func ownControlDir(say func(string)) (dir string, remove func(), err error) {
	dir = controlDir()
	os.Mkdir(dir, 0o700)
	err = cache.OwnDir(dir)
	if err == nil {
		return dir, func() {}, os.Chmod(dir, 0o700)
	}
	private, perr := os.MkdirTemp(os.TempDir(), strings.TrimSuffix(privateControlPattern(), "*"))
	if perr != nil {
		return "", nil, fmt.Errorf("%v; and no directory of its own: %v", err, perr)
	}
	say(fmt.Sprintf("control socket: %v; answering status and sync in %s instead", err, private))
	return private, func() { os.Remove(private) }, os.Chmod(private, 0o700)
}

// peerAllowed reports whether the process at the other end of c is this
// user's or root's (peerUID: the kernel's record, not the peer's word):
// a socket's mode alone is one chmod from answering everyone.
func peerAllowed(c net.Conn) (uid uint32, ok bool) {
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cerr error
	if err := raw.Control(func(fd uintptr) { uid, cerr = peerUID(int(fd)) }); err != nil || cerr != nil {
		return 0, false
	}
	return uid, uid == uint32(os.Getuid()) || uid == 0
}

func answerControl(c net.Conn, f *sftpfs.FS, rc *remote.Client, transport string) {
	defer c.Close()
	if uid, ok := peerAllowed(c); !ok {
		fmt.Fprintf(c, "failed: uid %d may not ask this mount\n", uid)
		return
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	switch strings.TrimSpace(line) {
	case "status":
		fmt.Fprint(c, statusText(f, rc, transport))
		fmt.Fprintln(c, "ok")
	case "sync":
		failed := f.Sync(context.Background())
		for _, x := range failed {
			fmt.Fprintf(c, "not uploaded: %s: %s\n", x.Path, x.Err)
		}
		if len(failed) > 0 {
			fmt.Fprintf(c, "failed %d\n", len(failed))
			return
		}
		fmt.Fprintln(c, "ok")
	default:
		fmt.Fprintln(c, "failed: unknown request")
	}
}

func statusText(f *sftpfs.FS, rc *remote.Client, transport string) string {
	var b strings.Builder
	st := rc.Stats()
	state := "connected"
	if !st.Connected {
		state = "disconnected (reconnects at the next request)"
	}
	fmt.Fprintf(&b, "transport: %s\nconnection: %s\n", transport, state)
	fmt.Fprintf(&b, "remote calls: %d\nreconnects: %d\n", st.Calls, st.Reconnects)
	fmt.Fprintf(&b, "change feed: %s\n", f.FeedStatus())
	fmt.Fprintf(&b, "bulk metadata: %s\n", f.TreeStatus())
	for _, l := range rc.Lacks() {
		fmt.Fprintf(&b, "server lacks %s\n", l)
	}
	ws := f.Status()
	if ws.Journal == "" {
		fmt.Fprintf(&b, "write-back: off\n")
		return b.String()
	}
	mode := "on"
	if !ws.On {
		mode = "off (uploading what an earlier mount left)"
	}
	fmt.Fprintf(&b, "write-back: %s\njournal: %s\n", mode, ws.Journal)
	fmt.Fprintf(&b, "queued: %d files, %d bytes, %d uploading\n", ws.Files, ws.Bytes, ws.Uploading)
	if !ws.Oldest.IsZero() {
		fmt.Fprintf(&b, "oldest: %s (%s ago)\n", ws.Oldest.Format(time.RFC3339), time.Since(ws.Oldest).Round(time.Second))
	}
	fmt.Fprintf(&b, "uploaded: %d files, %d bytes\nconflicts kept beside: %d\n", ws.Uploaded, ws.UploadedByte, ws.Conflicts)
	for _, x := range ws.Failed {
		fmt.Fprintf(&b, "failed: %s: %s\n", x.Path, x.Err)
	}
	return b.String()
}

// control runs `sftpmount status MNT` or `sftpmount sync MNT`.
func control(cmd string, args []string) int {
	if len(args) != 1 {
		return report(fail(ExitUsage, fmt.Sprintf("usage: sftpmount %s MOUNTPOINT", cmd)))
	}
	mnt, err := filepath.Abs(args[0])
	if err != nil {
		return report(fail(ExitUsage, err.Error()))
	}
	c, err := dialControl(mnt)
	for try := 0; err != nil && try < 10; try++ {
		// A mount that has just appeared opens its socket a moment
		// after it reports ready.
		time.Sleep(100 * time.Millisecond)
		c, err = dialControl(mnt)
	}
	if err != nil {
		return report(fail(ExitMountpoint, fmt.Sprintf("%s: no sftpmount of yours serves it (%v)", mnt, err)))
	}
	defer c.Close()
	fmt.Fprintln(c, cmd)
	lines := bufio.NewScanner(c)
	for lines.Scan() {
		line := lines.Text()
		switch {
		case line == "ok":
			return ExitOK
		case strings.HasPrefix(line, "failed"):
			if cmd == "sync" {
				return report(fail(ExitNotUploaded, "some files could not be uploaded; they stay in the journal"))
			}
			return report(fail(ExitInternal, line))
		case strings.HasPrefix(line, "not uploaded: "):
			fmt.Fprintln(os.Stderr, "sftpmount: "+line)
		default:
			fmt.Println(line)
		}
	}
	return report(fail(ExitInternal, "the mount ended before answering"))
}

// dialControl connects to the control socket of the mount at mnt.
func dialControl(mnt string) (net.Conn, error) {
	socks := controlSockets(mnt)
	if len(socks) == 0 {
		return nil, fmt.Errorf("%s is not a directory of this user's alone", controlDir())
	}
	var first error
	for _, s := range socks {
		c, err := net.Dial("unix", s)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = errors.Unwrap(err)
		}
	}
	return nil, first
}
