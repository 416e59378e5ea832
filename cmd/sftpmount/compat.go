package main

import (
	"fmt"
	"strconv"
	"time"
)

// sshfsCompat decides, for each option that only the C sshfs (or libfuse
// 2) knows, what a line written for sshfs gets here: the same effect, a
// one-line notice that it has none, or a refusal with the reason. The
// README's option table lists the same decisions.
type compat struct {
	cacheTimeout bool   // a cache timeout: sets our one timeout (notice if more specific)
	notice       string // accepted with no effect, for this reason
	refuse       string // refused, for this reason
}

var sshfsCompat = map[string]compat{
	// sshfs's cache options. sftpmount has one timeout for attributes,
	// listings and links.
	"dcache_timeout":            {cacheTimeout: true},
	"dcache_stat_timeout":       {cacheTimeout: true},
	"dcache_dir_timeout":        {cacheTimeout: true},
	"dcache_link_timeout":       {cacheTimeout: true},
	"cache_stat_timeout":        {cacheTimeout: true},
	"cache_dir_timeout":         {cacheTimeout: true},
	"cache_link_timeout":        {cacheTimeout: true},
	"dir_cache":                 {notice: "listings are cached for cache_timeout; use cache=no to turn every cache off"},
	"dcache_max_size":           {notice: "the attribute cache is bounded internally"},
	"cache_max_size":            {notice: "the attribute cache is bounded internally"},
	"dcache_clean_interval":     {notice: "expired cache entries are dropped when next looked up"},
	"cache_clean_interval":      {notice: "expired cache entries are dropped when next looked up"},
	"dcache_min_clean_interval": {notice: "expired cache entries are dropped when next looked up"},
	"cache_min_clean_interval":  {notice: "expired cache entries are dropped when next looked up"},

	// sshfs's own transfer and protocol tuning.
	"sshfs_sync":       {notice: "writes are always confirmed by the server before close and fsync return"},
	"no_readahead":     {notice: "read-ahead starts only on sequential reads, so random reads never fetch extra data"},
	"sync_readdir":     {notice: "directories are always listed in one pass"},
	"workaround":       {notice: "the workarounds are for old servers and the C sshfs; none is needed"},
	"delay_connect":    {notice: "sftpmount connects before the mount appears, so a wrong host or key is reported at once"},
	"compression":      {notice: compressionNotice},
	"disable_hardlink": {notice: "ln works when the server supports hard links and fails with ENOTSUP otherwise"},
	"ssh_command":      {refuse: "sftpmount speaks SSH itself; put what the command did (ProxyJump, IdentityFile, User...) in ~/.ssh/config or -o"},
	"ssh_protocol":     {refuse: "only SSH protocol 2 exists"},
	"directport":       {refuse: "SFTP is always carried over SSH"},
	"slave":            {refuse: "SFTP is always carried over SSH"},
	"passive":          {refuse: "SFTP is always carried over SSH"},
	"idmap=file":       {refuse: "use idmap=user or uid=/gid="},
	"uidfile":          {refuse: "idmap=file is not supported; use idmap=user or uid=/gid="},
	"gidfile":          {refuse: "idmap=file is not supported; use idmap=user or uid=/gid="},
	"nomap":            {refuse: "idmap=file is not supported; use idmap=user or uid=/gid="},

	// libfuse options sshfs passed to the kernel.
	"kernel_cache":     {notice: "the page cache is kept while a file's size and mtime are unchanged"},
	"auto_cache":       {notice: "the page cache is kept while a file's size and mtime are unchanged"},
	"big_writes":       {notice: "writes of up to 1 MiB are always used"},
	"large_read":       {notice: "the kernel's largest reads are always used"},
	"max_read":         {notice: "the kernel's largest reads are always used"},
	"max_write":        {notice: "writes of up to 1 MiB are always used"},
	"entry_timeout":    {notice: "set cache_timeout instead"},
	"attr_timeout":     {notice: "set cache_timeout instead"},
	"negative_timeout": {notice: "set cache_timeout instead"},
	"writeback_cache":  {notice: "writes are pipelined by sftpmount itself"},
	"subtype":          {notice: "the type is always fuse.sftpmount"},
	"auto_unmount":     {refuse: "unmount with fusermount3 -u, or stop the process with SIGTERM, which unmounts"},
	"allow_root":       {refuse: "use allow_other (with default_permissions to keep permission checks)"},
}

// compressionNotice answers -C and Compression=yes: x/crypto/ssh has no
// zlib@openssh.com, and a mount is faster without it on any link but the
// slowest.
const compressionNotice = "SSH compression is not supported by Go's SSH library; going on without it"

// applyCompat applies one option of the table above.
func (o *options) applyCompat(name, value string, hasValue bool, c compat) error {
	switch {
	case c.refuse != "":
		return fmt.Errorf("option %s is not supported: %s", name, c.refuse)
	case c.cacheTimeout:
		n, err := strconv.Atoi(value)
		if !hasValue || err != nil || n < 0 {
			return fmt.Errorf("option %s=%s: want a whole number of seconds >= 0", name, value)
		}
		o.CacheTimeout = time.Duration(n) * time.Second
		if name != "dcache_timeout" {
			o.Notices = append(o.Notices, fmt.Sprintf("option %s sets cache_timeout: sftpmount has one timeout for attributes, listings and links", name))
		}
		return nil
	}
	o.Notices = append(o.Notices, fmt.Sprintf("option %s has no effect: %s", name, c.notice))
	return nil
}
