package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// options is everything the command line can say. Defaults are set in one
// place, defaultOptions; the sshfs/ssh spelling of each -o name is beside
// its field, and its row in the option table (optiontable.go) says how it
// is read and what --help says of it. Connection settings that ssh_config can also give are kept as
// ssh keywords in SSH and resolved against ~/.ssh/config when serving.
type options struct {
	User       string // from user@host:dir; "" leaves it to ssh_config
	Host       string // the host alias as given
	Dir        string
	Mountpoint string

	SSH           sshconf.Overrides // -p, -o Port=, IdentityFile=, ProxyJump=...: win over ssh_config
	SSHConfigFile string            // -F FILE: instead of ~/.ssh/config and /etc/ssh/ssh_config

	Timeout   time.Duration // -o timeout= (seconds): deadline of every remote call
	Reconnect bool          // -o reconnect[=yes|no] (default yes)
	// RemoteCommands: -o remote_commands[=yes|no] (default yes): the
	// commands run on the server beside SFTP (the change feed, bulk
	// listings), each listed in the README.
	RemoteCommands bool
	Cache          cacheOptions // -o dir_cache=, dcache_*, entry_timeout=...: see caches.go
	MaxConns       int          // -o max_conns=N: SFTP sessions over the one SSH connection

	PasswordStdin bool // -o password_stdin: read the password from stdin once
	KeepPassword  bool // -o keep_password: keep it in memory for reconnects

	ContainSymlinks   bool // -o contain_symlinks (default) / no_contain_symlinks
	TransformSymlinks bool // -o transform_symlinks
	FollowSymlinks    bool // -o follow_symlinks

	UID           *uint32 // -o uid=N
	GID           *uint32 // -o gid=N
	Umask         uint32  // -o umask=OCTAL
	IDMapUser     bool    // -o idmap=user (idmap=none is the default)
	IDMap         string  // -o idmap=none|user|file
	UIDFile       string  // -o uidfile=FILE, with idmap=file (idmap.go)
	GIDFile       string  // -o gidfile=FILE, with idmap=file
	NoMapIgnore   bool    // -o nomap=ignore (nomap=error is sshfs's default)
	NoMapGiven    bool    // nomap= was given (it is only for idmap=file)
	MaxConnsGiven bool    // max_conns= was given (it means nothing over a stream)

	AllowOther         bool   // -o allow_other
	DefaultPermissions bool   // -o default_permissions
	ReadOnly           bool   // -o ro
	Nonempty           bool   // -o nonempty: mount over a directory that has files
	FsName             string // -o fsname=: what df and /proc/mounts show
	SFTPServer         string // -o sftp_server=: run this on the server instead of the sftp subsystem

	SSHCommand      string // -o ssh_command=CMD: run CMD (sshfs's argv) instead of our SSH (streams.go)
	DirectPort      int    // -o directport=PORT: SFTP over plain TCP to host:PORT
	Passive         bool   // -o passive, -o slave: SFTP on stdin and stdout
	DisableHardlink bool   // -o disable_hardlink: link(2) fails with EPERM
	SeparateLinks   bool   // -o separate_links: names the server linked are not told apart from other files

	Writeback      bool          // -o writeback: close returns once the file is in a local journal (fs/writeback)
	WritebackDir   string        // -o writeback_dir=DIR: the journal (default: see journalDir)
	WritebackLimit int64         // -o writeback_limit=BYTES: past it new files go straight to the server
	WritebackDelay time.Duration // -o writeback_delay=SECONDS: a file's upload begins this long after its last close

	Foreground bool // -f
	Debug      bool // -d, -o debug (implies -f, as in sshfs)

	Notices []string // sshfs options accepted without effect, said once at start
}

func defaultOptions() options {
	return options{
		SSH:             sshconf.Overrides{},
		Timeout:         30 * time.Second,
		Cache:           defaultCacheOptions(),
		MaxConns:        defaultMaxConns,
		ContainSymlinks: true,
		Reconnect:       true,
		RemoteCommands:  true,
		WritebackLimit:  1 << 30,
		// Long enough for a lock file renamed over the file it locks
		// (git), a temporary file removed, an editor's save: done in
		// the journal alone, where an upload already begun must be
		// waited for.
		WritebackDelay: 2 * time.Second,
	}
}

// Connection defaults where sftpmount differs from ssh (which has no
// connect timeout and no keepalive by default): a mount must notice a
// dead link on its own.
const (
	defaultConnectTimeout    = 15 * time.Second
	defaultKeepaliveInterval = 15 * time.Second
	defaultKeepaliveCountMax = 3
)

// defaultMaxConns SFTP sessions: one for every request, eight more for the
// bulk of large files, so one file moves eight SSH channel windows (16
// MiB) per round trip: at 50 ms a 128 MiB read went from 100 MB/s with
// five sessions to 136-139 MB/s with nine. sshd allows ten sessions per
// connection by default; an eleventh would be refused.
const (
	defaultMaxConns = 9
	maxMaxConns     = 10
)

// ignoredMountOptions are generic mount options that fstab and mount(8)
// pass along; they change nothing for a FUSE filesystem served by us.
// Not options of ours, so not in the option table: matched as written.
var ignoredMountOptions = map[string]bool{
	"rw": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "auto": true, "noauto": true, "_netdev": true,
	"atime": true, "noatime": true, "relatime": true, "norelatime": true,
	"strictatime": true, "nostrictatime": true, "lazytime": true, "nolazytime": true,
	"diratime": true, "nodiratime": true, "user": true, "nouser": true, "users": true,
	"owner": true, "group": true, "defaults": true, "nofail": true,
	"sync": true, "async": true, "dirsync": true, "silent": true, "loud": true,
}

// setOption applies one name[=value] from -o: by its row of the option
// table (optiontable.go), else as a generic mount option fstab passes.
func (o *options) setOption(opt string) error {
	name, value, hasValue := strings.Cut(opt, "=")
	if row, ok := optionsByName[strings.ToLower(name)]; ok {
		return row.apply(o, name, value, hasValue)
	}
	if ignoredMountOptions[name] && !hasValue {
		return nil
	}
	// x-systemd.*, x-gvfs-* and comment= are for mount(8) and systemd.
	if strings.HasPrefix(name, "x-") || name == "comment" {
		return nil
	}
	return fmt.Errorf("unknown option %q (see sftpmount --help)", opt)
}

// parseSize reads a size in bytes, with an optional K, M, G or T suffix
// (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if i := strings.IndexAny(strings.ToUpper(s), "KMGT"); i >= 0 && i == len(s)-1 {
		mult = int64(1) << (10 * (strings.IndexByte("KMGT", strings.ToUpper(s)[i]) + 1))
		s = s[:i]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
