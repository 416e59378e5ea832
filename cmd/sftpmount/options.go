package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// options is everything the command line can say. Defaults are set in one
// place, defaultOptions; the sshfs/ssh spelling of each -o name is beside
// its field. Connection settings that ssh_config can also give are kept as
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
	Cache     cacheOptions  // -o dir_cache=, dcache_*, entry_timeout=...: see caches.go
	MaxConns  int           // -o max_conns=N: SFTP sessions over the one SSH connection

	PasswordStdin bool // -o password_stdin: read the password from stdin once
	KeepPassword  bool // -o keep_password: keep it in memory for reconnects

	ContainSymlinks   bool // -o contain_symlinks (default) / no_contain_symlinks
	TransformSymlinks bool // -o transform_symlinks
	FollowSymlinks    bool // -o follow_symlinks

	UID         *uint32 // -o uid=N
	GID         *uint32 // -o gid=N
	Umask       uint32  // -o umask=OCTAL
	IDMapUser   bool    // -o idmap=user (idmap=none is the default)
	IDMap       string  // -o idmap=none|user|file
	UIDFile     string  // -o uidfile=FILE, with idmap=file (idmap.go)
	GIDFile     string  // -o gidfile=FILE, with idmap=file
	NoMapIgnore bool    // -o nomap=ignore (nomap=error is sshfs's default)
	NoMapGiven  bool    // nomap= was given (it is only for idmap=file)

	AllowOther         bool   // -o allow_other
	DefaultPermissions bool   // -o default_permissions
	ReadOnly           bool   // -o ro
	Nonempty           bool   // -o nonempty: mount over a directory that has files
	FsName             string // -o fsname=: what df and /proc/mounts show
	SFTPServer         string // -o sftp_server=: run this on the server instead of the sftp subsystem
	DisableHardlink    bool   // -o disable_hardlink: link(2) fails with EPERM
	SeparateLinks      bool   // -o separate_links: names the server linked are not told apart from other files

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
var ignoredMountOptions = map[string]bool{
	"rw": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "auto": true, "noauto": true, "_netdev": true,
	"atime": true, "noatime": true, "relatime": true, "norelatime": true,
	"strictatime": true, "nostrictatime": true, "lazytime": true, "nolazytime": true,
	"diratime": true, "nodiratime": true, "user": true, "nouser": true, "users": true,
	"owner": true, "group": true, "defaults": true, "nofail": true,
	"sync": true, "async": true, "dirsync": true, "silent": true, "loud": true,
}

// setOption applies one name[=value] from -o.
func (o *options) setOption(opt string) error {
	name, value, hasValue := strings.Cut(opt, "=")
	needValue := func() error {
		if !hasValue || value == "" {
			return fmt.Errorf("option %q needs a value (%s=...)", name, name)
		}
		return nil
	}
	seconds := func(dst *time.Duration, min int) error {
		if err := needValue(); err != nil {
			return err
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < min {
			return fmt.Errorf("option %s=%s: want a whole number of seconds >= %d", name, value, min)
		}
		*dst = time.Duration(n) * time.Second
		return nil
	}
	flag := func(dst *bool) error {
		if hasValue {
			return fmt.Errorf("option %s takes no value", name)
		}
		*dst = true
		return nil
	}

	if kw, ok := sshKeywords[strings.ToLower(name)]; ok {
		if err := needValue(); err != nil {
			return err
		}
		if err := kw.check(value); err != nil {
			return fmt.Errorf("option %s=%s: %v", name, value, err)
		}
		o.SSH.Set(kw.name, value)
		return nil
	}
	if c, ok := sshfsCompat[strings.ToLower(name)]; ok {
		return o.applyCompat(name, value, hasValue, c)
	}
	if set, ok := cacheSetters[strings.ToLower(name)]; ok {
		return set(&o.Cache, name, value, hasValue)
	}

	switch strings.ToLower(name) {
	case "timeout":
		return seconds(&o.Timeout, 1)
	case "max_conns":
		n, err := strconv.Atoi(value)
		if !hasValue || err != nil || n < 1 || n > maxMaxConns {
			return fmt.Errorf("option max_conns=%s: want a number of SFTP sessions from 1 to %d", value, maxMaxConns)
		}
		o.MaxConns = n
	case "reconnect":
		switch value {
		case "", "yes":
			if hasValue && value == "" {
				return fmt.Errorf("option reconnect=: want yes or no")
			}
			o.Reconnect = true
		case "no":
			o.Reconnect = false
		default:
			return fmt.Errorf("option reconnect=%s: want yes or no", value)
		}
	case "contain_symlinks":
		return flag(&o.ContainSymlinks)
	case "no_contain_symlinks":
		if err := flag(&o.ContainSymlinks); err != nil {
			return err
		}
		o.ContainSymlinks = false
	case "transform_symlinks":
		return flag(&o.TransformSymlinks)
	case "follow_symlinks":
		return flag(&o.FollowSymlinks)
	case "uid", "gid":
		if err := needValue(); err != nil {
			return err
		}
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return fmt.Errorf("option %s=%s: want a numeric id", name, value)
		}
		id := uint32(n)
		if name == "uid" {
			o.UID = &id
		} else {
			o.GID = &id
		}
	case "umask":
		if err := needValue(); err != nil {
			return err
		}
		n, err := strconv.ParseUint(value, 8, 32)
		if err != nil || n > 07777 {
			return fmt.Errorf("option umask=%s: want an octal mask such as 022", value)
		}
		o.Umask = uint32(n)
	case "idmap":
		switch value {
		case "none", "user", "file":
			o.IDMap, o.IDMapUser = value, value == "user"
		default:
			return fmt.Errorf("option idmap=%s: want none, user or file", value)
		}
	case "uidfile", "gidfile":
		if err := needValue(); err != nil {
			return err
		}
		if name == "uidfile" {
			o.UIDFile = value
		} else {
			o.GIDFile = value
		}
	case "nomap":
		switch value {
		case "ignore", "error":
			o.NoMapIgnore, o.NoMapGiven = value == "ignore", true
		default:
			return fmt.Errorf("option nomap=%s: want ignore or error", value)
		}
	case "disable_hardlink":
		return flag(&o.DisableHardlink)
	case "separate_links":
		return flag(&o.SeparateLinks)
	case "allow_other":
		return flag(&o.AllowOther)
	case "default_permissions":
		return flag(&o.DefaultPermissions)
	case "ro":
		return flag(&o.ReadOnly)
	case "nonempty":
		return flag(&o.Nonempty)
	case "password_stdin":
		return flag(&o.PasswordStdin)
	case "keep_password":
		return flag(&o.KeepPassword)
	case "fsname":
		if err := needValue(); err != nil {
			return err
		}
		o.FsName = value
	case "sftp_server":
		// sshfs's: a command run on the server instead of its sftp
		// subsystem, such as "sudo -n /usr/lib/openssh/sftp-server".
		if err := needValue(); err != nil {
			return err
		}
		o.SFTPServer = value
	case "writeback":
		return flag(&o.Writeback)
	case "writeback_dir":
		if err := needValue(); err != nil {
			return err
		}
		if !filepath.IsAbs(value) {
			abs, err := filepath.Abs(value)
			if err != nil {
				return fmt.Errorf("option writeback_dir=%s: %v", value, err)
			}
			value = abs
		}
		o.WritebackDir = value
	case "writeback_delay":
		return seconds(&o.WritebackDelay, 0)
	case "writeback_limit":
		n, err := parseSize(value)
		if !hasValue || err != nil || n < 1 {
			return fmt.Errorf("option writeback_limit=%s: want a size in bytes, such as 500M or 2G", value)
		}
		o.WritebackLimit = n
	case "debug", "sshfs_debug":
		return flag(&o.Debug)
	default:
		if ignoredMountOptions[name] && !hasValue {
			return nil
		}
		// x-systemd.*, x-gvfs-* and comment= are for mount(8) and systemd.
		if strings.HasPrefix(name, "x-") || name == "comment" {
			return nil
		}
		return fmt.Errorf("unknown option %q (see sftpmount --help)", opt)
	}
	return nil
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
