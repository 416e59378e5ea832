package remote

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pkg/sftp"
)

// What a server other than OpenSSH's may lack. Dropbear runs OpenSSH's
// sftp-server, but pkg/sftp's server, managed services and older
// sftp-servers lack some of the extensions the mount uses, or refuse
// calls plain SFTP has. Each missing piece has a fallback and is said
// once: a line in the -d log and in `sftpmount status` (Lacks). The
// extensions are read from the server's VERSION reply at the start (no
// request, nothing written to find out); what a server refuses although
// it names no extension for it (a SETSTAT, a symlink, a write that is
// not at a file's end) is learned when first refused. Against OpenSSH
// none of this sends a byte more or less: every fallback starts on an
// error or a missing name. docs/servers.md lists them.

// extensionFallbacks are the extensions the mount uses, each with what
// it does without one.
var extensionFallbacks = []struct{ name, without string }{
	{extPosixRename, "a rename over an existing name moves it aside to a temporary name first, then removes it (not atomic; nothing is lost on failure)"},
	{extStatVFS, "df shows a stand-in (1000 GiB, all free, names of 255 bytes), as sshfs does"},
	{"fstatvfs@openssh.com", "names the server linked show as separate files"},
	{extHardlink, "a hard link (ln) fails with EPERM, as on a filesystem without them"},
	{extFsync, "fsync returns once every write is answered; the server's disk is not forced (as sshfs)"},
	{"lsetstat@openssh.com", "chmod, chown and times by path go by SETSTAT, which follows a final symlink; a symlink's own owner and times fail with ENOTSUP"},
	{"limits@openssh.com", "reads and writes go 32 KiB a request"},
	{"copy-data", "a copy within the mount (copy_file_range) goes through this machine"},
}

const (
	extPosixRename = "posix-rename@openssh.com"
	extStatVFS     = "statvfs@openssh.com"
	extHardlink    = "hardlink@openssh.com"
	extFsync       = "fsync@openssh.com"
)

// refusals are the calls of plain SFTP a server may refuse as not
// supported (SSH_FX_OP_UNSUPPORTED), by op: learned on the first
// refusal, said once, and each such call fails with ENOTSUP (fs/errno.go),
// never EIO. A call in skipRefused is not sent again once refused: the
// server gives the same answer to every file.
var refusals = map[string]string{
	"chmod": "SETSTAT", "chown": "SETSTAT", "utimens": "SETSTAT", "truncate": "SETSTAT",
	"fchmod": "SETSTAT", "fchown": "SETSTAT", "futimens": "SETSTAT", "ftruncate": "SETSTAT",
	"write":   "random writes",
	"symlink": "symlinks",
}

var refusedWithout = map[string]string{
	"SETSTAT":       "the server refuses some changes of mode, owner, times or size: each so refused fails with ENOTSUP, and is not asked again",
	"random writes": "the server refused a write (servers that take whole uploads refuse one not at the file's end): such a write fails with ENOTSUP",
	"symlinks":      "the server refuses symlinks: ln -s fails with ENOTSUP",
}

// skipRefused are the refused ops not sent again: a write is refused by
// where it lands, not always.
func skipRefused(op string) bool { return op != "write" }

// lacking is what the server lacks, in the order found.
type lacking struct {
	mu      sync.Mutex      // guards lines, refused
	lines   []lack          // each name once
	refused map[string]bool // ops of refusals the server refused
	any     atomic.Bool     // refused is not empty: callOnce's one check when it is
}

type lack struct{ name, instead string }

// lack records that the server lacks name, once, and logs it under -d.
func (c *Client) lack(name, instead string) {
	c.lacks.mu.Lock()
	known := slices.ContainsFunc(c.lacks.lines, func(l lack) bool { return l.name == name })
	if !known {
		c.lacks.lines = append(c.lacks.lines, lack{name, instead})
	}
	c.lacks.mu.Unlock()
	if !known {
		c.cfg.debugf("server lacks %s: %s", name, instead)
	}
}

// lacksName reports whether name was recorded lacking (not named at the
// start, or refused since).
func (c *Client) lacksName(name string) bool {
	c.lacks.mu.Lock()
	defer c.lacks.mu.Unlock()
	return slices.ContainsFunc(c.lacks.lines, func(l lack) bool { return l.name == name })
}

// Lacks returns one line for each missing piece of the server, "NAME:
// what is done instead", in the order found: `sftpmount status` shows
// them.
func (c *Client) Lacks() []string {
	c.lacks.mu.Lock()
	defer c.lacks.mu.Unlock()
	out := make([]string, len(c.lacks.lines))
	for i, l := range c.lacks.lines {
		out[i] = l.name + ": " + l.instead
	}
	return out
}

// probe records each extension the server's VERSION reply did not name
// (no request is sent).
func (c *Client) probe(sc *sftp.Client) {
	for _, x := range extensionFallbacks {
		data, ok := sc.HasExtension(x.name)
		if !ok || x.name == extFsync && data != "1" { // pkg/sftp sends fsync only for version "1"
			c.lack(x.name, x.without)
		}
	}
}

// has reports whether the server names the extension and has not
// refused it since (refused).
func (c *Client) has(sc *sftp.Client, name string) bool {
	if _, ok := sc.HasExtension(name); !ok {
		return false
	}
	return !c.lacksName(name)
}

// refused reports whether err is the server's SSH_FX_OP_UNSUPPORTED (or
// pkg/sftp's own, for an extension it will not send) to the extension
// name, and then records name as lacking.
func (c *Client) refused(err error, name string) bool {
	if code, ok := StatusCode(err); !ok || code != StatusOpUnsupported {
		return false
	}
	for _, x := range extensionFallbacks {
		if x.name == name {
			c.lack(name, x.without)
		}
	}
	return true
}

// learn records the server's refusal of a call of refusals (op), on the
// error path of every call.
func (c *Client) learn(op string, err error) {
	what, ok := refusals[op]
	if !ok || err == nil {
		return
	}
	if code, ok := StatusCode(err); !ok || code != StatusOpUnsupported {
		return
	}
	c.lack(what, refusedWithout[what])
	if skipRefused(op) {
		c.lacks.mu.Lock()
		if c.lacks.refused == nil {
			c.lacks.refused = map[string]bool{}
		}
		c.lacks.refused[op] = true
		c.lacks.mu.Unlock()
		c.lacks.any.Store(true)
	}
}

// refusedBefore is the error of a call the server refused before, which
// is not sent again; nil for any other.
func (c *Client) refusedBefore(op string) error {
	if !c.lacks.any.Load() {
		return nil
	}
	c.lacks.mu.Lock()
	defer c.lacks.mu.Unlock()
	if c.lacks.refused[op] {
		return errRefusedBefore
	}
	return nil
}

// errRefusedBefore is a call not sent because the server refused it as
// not supported before: it carries that status (fs says ENOTSUP).
var errRefusedBefore = errors.Join(errors.New("refused by the server before, not asked again"), sftp.ErrSSHFxOpUnsupported)

// StandInStatFS is what statfs answers for a server without
// statvfs@openssh.com: sshfs's stand-in, 1000 GiB in 4 KiB blocks, all
// free, a billion files, names of 255 bytes. df shows it, and programs
// that check for room before writing go on.
var StandInStatFS = StatFS{
	BlockSize: 4096, FragmentSize: 4096,
	Blocks: 1000 << 30 / 4096, BlocksFree: 1000 << 30 / 4096, BlocksAvail: 1000 << 30 / 4096,
	Files: 1e9, FilesFree: 1e9, NameMax: 255,
}
