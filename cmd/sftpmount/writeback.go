package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/syslog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	sftpfs "github.com/sftpmount/sftpmount/fs"
	"github.com/sftpmount/sftpmount/fs/writeback"
)

// journalConfig is where the write-back journal of one remote directory
// lives, unless -o writeback_dir says: under $XDG_STATE_HOME (or
// ~/.local/state)/sftpmount/journal, one directory per user, host, port
// and remote directory, so that the next mount of the same remote finds
// what an earlier one left. Below the state directory, every component
// must be this user's alone.
func journalConfig(o options, r writeback.JournalRemote) writeback.JournalConfig {
	if o.WritebackDir != "" {
		return writeback.JournalConfig{Dir: o.WritebackDir, Remote: r}
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".local", "state")
	}
	target := fmt.Sprintf("%s@%s:%d", r.User, r.Host, r.Port)
	sum := sha256.Sum256([]byte(target + ":" + r.Dir))
	name := regexp.MustCompile(`[^A-Za-z0-9@._-]+`).ReplaceAllString(target, "_")
	return writeback.JournalConfig{Dir: filepath.Join(base, "sftpmount", "journal", fmt.Sprintf("%s-%x", name, sum[:6])), Above: base, Remote: r, NamedByRemote: true}
}

// openWriteback opens the journal: always with -o writeback, and without
// it when an earlier mount left files in it, which this mount uploads.
// A journal another user could write into is refused with one line;
// without -o writeback or -o writeback_dir (the mount asked for no
// journal), it is left alone with a notice.
func openWriteback(o options, r writeback.JournalRemote, notice func(string)) (*writeback.Config, error) {
	c := journalConfig(o, r)
	c.Notice = notice
	if !o.Writeback {
		has, err := writeback.HasRecords(c)
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
	j, err := writeback.OpenJournal(c)
	if err != nil {
		if !o.Writeback && errors.Is(err, writeback.ErrJournalBusy) {
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
	return &writeback.Config{Journal: j, On: o.Writeback, Limit: o.WritebackLimit, Delay: o.WritebackDelay, Notice: notice}, nil
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
