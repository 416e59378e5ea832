package remote

import (
	"slices"
	"sync"

	"github.com/pkg/sftp"
)

// A server other than OpenSSH's (Dropbear runs OpenSSH's sftp-server,
// but managed services, pkg/sftp's server and older sftp-servers do not)
// may lack the extensions this mount uses, or refuse calls plain SFTP
// has. Each missing piece has a fallback, and is said once: a line in the
// -d log and in `sftpmount status`. The extensions are asked at the start
// (the server names them in its VERSION reply: nothing is written to
// find out); what a server refuses although it names no extension for
// it (SETSTAT, a rename over an existing name, a write that is not at a
// file's end) is learned when first refused. Nothing fails as EIO
// because an extension is missing: docs/servers.md lists each fallback.

// extensionFallbacks are the extensions the mount uses, each with what
// it does without one.
var extensionFallbacks = []struct{ name, without string }{
	{"posix-rename@openssh.com", "a rename over an existing file removes that file first (for a moment neither name exists)"},
	{"statvfs@openssh.com", "df shows sshfs's stand-in: 1000 GiB, all free, names of 255 bytes"},
	{"fstatvfs@openssh.com", "names the server linked show as separate files"},
	{"hardlink@openssh.com", "a hard link (ln) fails with EPERM, as on a filesystem without them"},
	{"fsync@openssh.com", "fsync returns once every write is answered and the file's attributes are read back; the server's disk is not forced"},
	{"lsetstat@openssh.com", "chmod, chown and times go by SETSTAT, which the server applies through a final symlink"},
	{"limits@openssh.com", "reads and writes go 32 KiB a request"},
	{"copy-data", "a copy within the mount (copy_file_range) goes through this machine"},
}

// lacking is what the server lacks, in the order found.
type lacking struct {
	mu    sync.Mutex // guards lines
	lines []string   // "NAME: what is done instead"
	// probed runs probe once, on the first session.
	probed sync.Once
}

// lack records that the server lacks name, once, and logs it under -d.
func (c *Client) lack(name, instead string) {
	line := name + ": " + instead
	c.lacks.mu.Lock()
	known := slices.Contains(c.lacks.lines, line)
	if !known {
		c.lacks.lines = append(c.lacks.lines, line)
	}
	c.lacks.mu.Unlock()
	if !known {
		c.cfg.debugf("server lacks %s", line)
	}
}

// Lacks returns one line for each missing piece of the server, asking
// the server's extensions first if that is not done yet: the mount calls
// it at the start, for its -d log, and `sftpmount status` shows it.
func (c *Client) Lacks() []string {
	c.lacks.probed.Do(func() {
		c.mu.Lock()
		s := c.cur
		c.mu.Unlock()
		if s != nil {
			c.probe(s.sftp)
		}
	})
	c.lacks.mu.Lock()
	defer c.lacks.mu.Unlock()
	return slices.Clone(c.lacks.lines)
}

// probe records each extension the server did not name.
func (c *Client) probe(sc *sftp.Client) {
	for _, x := range extensionFallbacks {
		if data, ok := sc.HasExtension(x.name); !ok || (x.name == "fsync@openssh.com" && data != "1") {
			c.lack(x.name, x.without)
		}
	}
}

// has reports whether sc's server names the extension. A server that
// names it and then refuses it (SSH_FX_OP_UNSUPPORTED) is not asked
// again: refused records that.
func (c *Client) has(sc *sftp.Client, name string) bool {
	if _, ok := sc.HasExtension(name); !ok {
		return false
	}
	c.lacks.mu.Lock()
	defer c.lacks.mu.Unlock()
	return !slices.ContainsFunc(c.lacks.lines, func(l string) bool { return len(l) > len(name) && l[:len(name)+1] == name+":" })
}

// refused reports whether err is the server's SSH_FX_OP_UNSUPPORTED, and
// then records it as lacking name.
func (c *Client) refused(err error, name, instead string) bool {
	if code, ok := StatusCode(err); !ok || code != StatusOpUnsupported {
		return false
	}
	c.lack(name, instead)
	return true
}

// refusals are calls of plain SFTP a server may refuse as not supported
// (SSH_FX_OP_UNSUPPORTED), by op: learned on the first refusal, each
// call so refused fails with ENOTSUP (fs/errno.go), never EIO.
var refusals = map[string]struct{ name, instead string }{
	"chmod": setstatRefused, "chown": setstatRefused, "utimens": setstatRefused, "truncate": setstatRefused,
	"fchmod": setstatRefused, "fchown": setstatRefused, "futimens": setstatRefused, "ftruncate": setstatRefused, "fsetstat": setstatRefused,
	"write":   {"random writes", "the server refuses a write as not supported (servers that store whole objects refuse one that is not at the file's end): such a write fails with ENOTSUP"},
	"symlink": {"symlinks", "the server refuses symlinks: ln -s fails with ENOTSUP"},
}

var setstatRefused = struct{ name, instead string }{"SETSTAT", "the server refuses to change modes, owners, times or sizes: chmod, chown, touch -d and truncate fail with ENOTSUP"}

// learn records a refusal of refusals' op.
func (c *Client) learn(op string, err error) {
	if r, ok := refusals[op]; ok && err != nil {
		c.refused(err, r.name, r.instead)
	}
}

// extensionWithout is extensionFallbacks' line for name.
func extensionWithout(name string) string {
	for _, x := range extensionFallbacks {
		if x.name == name {
			return x.without
		}
	}
	return "not used"
}

// StandInStatFS is what statfs answers for a server without
// statvfs@openssh.com: sshfs's stand-in, 1000 GiB in 4 KiB blocks, all
// free, a billion files, names of 255 bytes.
var StandInStatFS = StatFS{
	BlockSize: 4096, FragmentSize: 4096,
	Blocks: 1000 << 30 / 4096, BlocksFree: 1000 << 30 / 4096, BlocksAvail: 1000 << 30 / 4096,
	Files: 1e9, FilesFree: 1e9, NameMax: 255,
}

// syncOrStat fsyncs h (fsync@openssh.com). A server without the extension
// (or that refuses it) is asked the file's attributes instead (FSTAT): a
// round trip answered after every write sent before it, which is all
// such a server can promise.
func (c *Client) syncOrStat(h *sftp.File) error {
	const fsync = "fsync@openssh.com"
	err := h.Sync()
	if c.refused(err, fsync, extensionWithout(fsync)) {
		_, err = h.Stat()
	}
	return err
}
