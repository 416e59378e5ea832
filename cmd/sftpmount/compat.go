package main

import "fmt"

// sshfsCompat decides, for each option that only the C sshfs (or libfuse
// 2) knows, what a line written for sshfs gets here: the same effect, a
// one-line notice that it has none, or a refusal with the reason. The
// sshfs table of docs/options.md lists the same decisions.
type compat struct {
	notice string // accepted with no effect, for this reason
	refuse string // refused, for this reason
}

var sshfsCompat = map[string]compat{
	// sshfs's cache options are in caches.go.

	// sshfs's own transfer and protocol tuning.
	"sshfs_sync":    {notice: "writes are always confirmed by the server before close and fsync return"},
	"no_readahead":  {notice: "read-ahead starts only on sequential reads, so random reads never fetch extra data"},
	"sync_readdir":  {notice: "directories are always listed in one pass"},
	"workaround":    {notice: "the workarounds are for old servers and the C sshfs; none is needed"},
	"delay_connect": {notice: "sftpmount connects before the mount appears, so a wrong host or key is reported at once"},
	"compression":   {notice: compressionNotice},
	"no_check_root": {notice: "the remote directory is always checked at mount: a missing one is exit 7, before the mount appears"},
	"use_ino":       {notice: "inode numbers are always the mount's own, stable ones (see the README)"},
	"readdir_ino":   {notice: "inode numbers are always the mount's own, stable ones (see the README)"},
	"ssh_command":   {refuse: "sftpmount speaks SSH itself; put what the command did (ProxyJump, IdentityFile, User...) in ~/.ssh/config or -o"},
	"ssh_protocol":  {refuse: "only SSH protocol 2 exists"},
	"directport":    {refuse: "SFTP is always carried over SSH"},
	"slave":         {refuse: "SFTP is always carried over SSH"},
	"passive":       {refuse: "SFTP is always carried over SSH"},

	// libfuse options sshfs passed to the kernel (the cache ones, and
	// max_read and max_write, are in caches.go).
	"big_writes":      {notice: "writes of up to 1 MiB are always used"},
	"large_read":      {notice: "the kernel's largest reads are always used"},
	"writeback_cache": {notice: "writes are pipelined by sftpmount itself"},
	"subtype":         {notice: "the type is always fuse.sftpmount"},
	"auto_unmount":    {refuse: "unmount with fusermount3 -u, or stop the process with SIGTERM, which unmounts"},
	"allow_root":      {refuse: "use allow_other (with default_permissions to keep permission checks)"},
}

// compressionNotice answers -C and Compression=yes: x/crypto/ssh has no
// zlib@openssh.com, and a mount is faster without it on any link but the
// slowest.
const compressionNotice = "SSH compression is not supported by Go's SSH library; going on without it"

// applyCompat applies one option of the table above.
func (o *options) applyCompat(name, value string, hasValue bool, c compat) error {
	if c.refuse != "" {
		return fmt.Errorf("option %s is not supported: %s", name, c.refuse)
	}
	o.Notices = append(o.Notices, fmt.Sprintf("option %s has no effect: %s", name, c.notice))
	return nil
}
