package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	sftpfs "github.com/sftpmount/sftpmount/fs"
	"github.com/sftpmount/sftpmount/remote"
)

// journalConfig is where the write-back journal of one remote directory
// lives, unless -o writeback_dir says: under $XDG_STATE_HOME (or
// ~/.local/state)/sftpmount/journal, one directory per user, host, port
// and remote directory, so that the next mount of the same remote finds
// what an earlier one left. Below the state directory, every component
// must be this user's alone.
func journalConfig(o options, r cache.JournalRemote) cache.JournalConfig {
	if o.WritebackDir != "" {
		return cache.JournalConfig{Dir: o.WritebackDir, Remote: r}
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".local", "state")
	}
	target := fmt.Sprintf("%s@%s:%d", r.User, r.Host, r.Port)
	sum := sha256.Sum256([]byte(target + ":" + r.Dir))
	name := regexp.MustCompile(`[^A-Za-z0-9@._-]+`).ReplaceAllString(target, "_")
	return cache.JournalConfig{Dir: filepath.Join(base, "sftpmount", "journal", fmt.Sprintf("%s-%x", name, sum[:6])), Above: base, Remote: r}
}

// openWriteback opens the journal: always with -o writeback, and without
// it when an earlier mount left files in it, which this mount uploads.
// A journal another user could write into is refused with one line;
// without -o writeback or -o writeback_dir (the mount asked for no
// journal), it is left alone with a notice.
func openWriteback(o options, r cache.JournalRemote, notice func(string)) (*sftpfs.Writeback, error) {
	c := journalConfig(o, r)
	c.Notice = notice
	if !o.Writeback {
		has, err := cache.HasRecords(c)
		var np *cache.NotPrivateError
		if err != nil && o.WritebackDir == "" && errors.As(err, &np) {
			notice(fmt.Sprintf("write-back journal not used: %v", err))
			return nil, nil
		}
		if err != nil {
			return nil, fail(ExitConfig, fmt.Sprintf("write-back %v", err))
		}
		if !has {
			return nil, nil
		}
	}
	j, err := cache.OpenJournal(c)
	if err != nil {
		if !o.Writeback && errors.Is(err, cache.ErrJournalBusy) {
			return nil, nil // another mount of the same remote uploads them
		}
		return nil, fail(ExitConfig, fmt.Sprintf("write-back %v", err))
	}
	if !o.Writeback {
		if es, err := j.Entries(); err == nil && len(es) == 0 {
			j.Close()
			return nil, nil
		}
	}
	return &sftpfs.Writeback{Journal: j, On: o.Writeback, Limit: o.WritebackLimit, Delay: o.WritebackDelay, Notice: notice}, nil
}

// controlSocket is where a mount at mountpoint answers `sftpmount status`
// and `sftpmount sync`.
func controlSocket(mountpoint string) string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("sftpmount-%d", os.Getuid()))
	} else {
		dir = filepath.Join(dir, "sftpmount")
	}
	sum := sha256.Sum256([]byte(filepath.Clean(mountpoint)))
	return filepath.Join(dir, fmt.Sprintf("%x.sock", sum[:8]))
}

// serveControl answers status and sync on the mount's control socket
// until the returned stop is called.
func serveControl(mountpoint string, f *sftpfs.FS, rc *remote.Client) (stop func(), err error) {
	path := controlSocket(mountpoint)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := cache.OwnDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another sftpmount answers there", path)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go answerControl(c, f, rc)
		}
	}()
	return func() { l.Close(); os.Remove(path) }, nil
}

func answerControl(c net.Conn, f *sftpfs.FS, rc *remote.Client) {
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	switch strings.TrimSpace(line) {
	case "status":
		fmt.Fprint(c, statusText(f, rc))
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

func statusText(f *sftpfs.FS, rc *remote.Client) string {
	var b strings.Builder
	st := rc.Stats()
	state := "connected"
	if !st.Connected {
		state = "disconnected (reconnects at the next request)"
	}
	fmt.Fprintf(&b, "connection: %s\n", state)
	fmt.Fprintf(&b, "remote calls: %d\nreconnects: %d\n", st.Calls, st.Reconnects)
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
	if err := cache.OwnDir(filepath.Dir(controlSocket(mnt))); err != nil {
		return report(fail(ExitMountpoint, fmt.Sprintf("%s: no sftpmount of yours serves it (%v)", mnt, err)))
	}
	c, err := net.Dial("unix", controlSocket(mnt))
	for try := 0; err != nil && try < 10; try++ {
		// A mount that has just appeared opens its socket a moment
		// after it reports ready.
		time.Sleep(100 * time.Millisecond)
		c, err = net.Dial("unix", controlSocket(mnt))
	}
	if err != nil {
		return report(fail(ExitMountpoint, fmt.Sprintf("%s: no sftpmount serves it (%v)", mnt, errors.Unwrap(err))))
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

// drain waits at unmount for the journal's uploads, and names on stderr
// every file that could not be uploaded.
func drain(f *sftpfs.FS, limit time.Duration, say func(string)) error {
	ws := f.Status()
	if ws.Journal == "" {
		return nil
	}
	if ws.Files > 0 {
		say(fmt.Sprintf("unmounted; uploading %d files (%d bytes) still in the journal %s", ws.Files, ws.Bytes, ws.Journal))
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	failed := f.Sync(ctx)
	for _, x := range failed {
		say(fmt.Sprintf("not uploaded, kept in the journal %s: %s: %s", ws.Journal, x.Path, x.Err))
	}
	if len(failed) > 0 {
		return fail(ExitNotUploaded, fmt.Sprintf("%d files could not be uploaded; the next mount of %s uploads them", len(failed), "the same remote directory"))
	}
	return nil
}

// laterNotices is where lines go once the mount runs: stderr in the
// foreground; syslog for a daemon, whose stderr is /dev/null.
func laterNotices(foreground bool) func(string) {
	if foreground {
		return func(msg string) { fmt.Fprintln(os.Stderr, "sftpmount: "+msg) }
	}
	w, err := syslog.New(syslog.LOG_WARNING|syslog.LOG_DAEMON, "sftpmount")
	if err != nil {
		return func(string) {}
	}
	return func(msg string) { w.Warning(msg) }
}
