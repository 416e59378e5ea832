package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The option table: every option sftpmount takes, one row each, with the
// names -o takes it by, how its value is applied, and its line in --help,
// which is made from the table (helpText). sshfs's options sit beside
// their sftpmount meaning, ssh_config keywords beside ours. The flags
// (-p, -F, -f, -d...) have rows for their help lines; parseArgs reads
// them.

// applier applies one -o name[=value]; name is as the user wrote it.
type applier func(o *options, name, value string, hasValue bool) error

// option is one row of the table.
type option struct {
	// names are matched without regard to case; the first is the one
	// --help shows. A flag's name starts with '-'; a help line of its
	// own (sftpmount status) has none.
	names []string
	apply applier
	// ssh is set for an ssh_config keyword: checked here, applied when
	// the host is resolved against ~/.ssh/config (sshopts.go).
	ssh *sshKeyword
	// compat is set for an option only the C sshfs (or libfuse 2) knows,
	// which does nothing here (compat.go).
	compat *compat

	section string // its --help section: one of helpSections
	usage   string // its --help line's left column; "" when it has none
	text    string // and what it does
}

// helpSections are --help's sections, in order, with their headings.
var helpSections = []struct{ name, heading string }{
	{"general", "General:"},
	{"ssh", "SSH (any ssh_config keyword listed in the README):"},
	{"auth", "Authentication (agent, key files, keyboard-interactive, password):"},
	{"hostkeys", "Host keys:"},
	{"connection", "Connection:"},
	{"caching", "Caching (sshfs's options, sshfs's meanings):"},
	{"writeback", `Write-back (README "Write-back"):`},
	{"symlinks", "Symlinks:"},
	{"owner", "Ownership and permissions:"},
	{"mount", "Mount:"},
}

var optionTable = []option{
	// Flags, read by parseArgs.
	{names: []string{"-p"}, section: "general", usage: "-p PORT", text: "server port (also -o Port=PORT)"},
	{names: []string{"-F"}, section: "general", usage: "-F FILE", text: "ssh config file instead of ~/.ssh/config"},
	{names: []string{"-f"}, section: "general", usage: "-f", text: "stay in the foreground"},
	{names: []string{"debug", "sshfs_debug"}, apply: flag(func(o *options) *bool { return &o.Debug }),
		section: "general", usage: "-d, -o debug", text: "log every operation on stderr (implies -f)"},
	{names: []string{"-h", "--help"}, section: "general", usage: "-h, --help", text: "this text"},
	{names: []string{"-V", "--version"}, section: "general", usage: "-V, --version", text: "print the version"},

	// ssh_config keywords.
	{ssh: &sshKeyword{name: "User", check: userValue}, section: "ssh", usage: "-o User=NAME, -o HostName=H", text: "where to log in"},
	{ssh: &sshKeyword{name: "HostName", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "Port", check: portValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "ProxyJump", check: anyValue}, section: "ssh", usage: "-o ProxyJump=[u@]h[:p][,...]", text: "reach the server through jump hosts"},
	{ssh: &sshKeyword{name: "ProxyCommand", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "ConnectTimeout", check: atLeast(1)}, section: "ssh", usage: "-o ConnectTimeout=SECONDS", text: "give up connecting after this long without progress (15)"},
	{ssh: &sshKeyword{name: "ServerAliveInterval", check: atLeast(0)}, section: "ssh", usage: "-o ServerAliveInterval=SECS", text: "keepalive interval, 0 = off (15)"},
	{ssh: &sshKeyword{name: "ServerAliveCountMax", check: atLeast(1)}, section: "ssh", usage: "-o ServerAliveCountMax=N", text: "unanswered keepalives before the link is dead (3)"},
	// Algorithm lists: checked against OpenSSH's names when resolved.
	{ssh: &sshKeyword{name: "Ciphers", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "MACs", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "KexAlgorithms", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "HostKeyAlgorithms", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "PubkeyAcceptedAlgorithms", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "PubkeyAcceptedKeyTypes", check: anyValue}, section: "ssh"},
	{ssh: &sshKeyword{name: "RekeyLimit", check: anyValue}, section: "ssh"},

	{ssh: &sshKeyword{name: "IdentityFile", check: anyValue, path: true}, section: "auth", usage: "-o IdentityFile=PATH", text: "key to offer, repeatable (~/.ssh/id_ed25519, id_ecdsa, id_rsa)"},
	{ssh: &sshKeyword{name: "IdentitiesOnly", check: yesNo}, section: "auth", usage: "-o IdentitiesOnly=yes", text: "offer only those keys, not every agent key"},
	{ssh: &sshKeyword{name: "CertificateFile", check: anyValue, path: true}, section: "auth", usage: "-o CertificateFile=PATH", text: "certificate to offer (PATH-cert.pub is found anyway)"},
	{ssh: &sshKeyword{name: "IdentityAgent", check: anyValue}, section: "auth"},
	{names: []string{"password_stdin"}, apply: flag(func(o *options) *bool { return &o.PasswordStdin }),
		section: "auth", usage: "-o password_stdin", text: "read the target's password from stdin (never sent to jump hosts)"},
	{names: []string{"keep_password"}, apply: flag(func(o *options) *bool { return &o.KeepPassword }),
		section: "auth", usage: "-o keep_password", text: "keep that password so a reconnect can log in again"},
	{ssh: &sshKeyword{name: "BatchMode", check: yesNo}, section: "auth", usage: "-o BatchMode=yes", text: "never ask anything (no terminal, no askpass)"},
	{ssh: &sshKeyword{name: "PasswordAuthentication", check: yesNo}, section: "auth", usage: "-o PasswordAuthentication=no", text: "leave a method out (also Pubkey..., KbdInteractive...)"},
	{ssh: &sshKeyword{name: "PubkeyAuthentication", check: yesNo}, section: "auth"},
	{ssh: &sshKeyword{name: "KbdInteractiveAuthentication", check: yesNo}, section: "auth"},
	{ssh: &sshKeyword{name: "NumberOfPasswordPrompts", check: atLeast(1)}, section: "auth"},

	{ssh: &sshKeyword{name: "UserKnownHostsFile", check: anyValue, path: true}, section: "hostkeys", usage: "-o UserKnownHostsFile=PATH", text: "known_hosts file(s) (~/.ssh/known_hosts)"},
	{ssh: &sshKeyword{name: "GlobalKnownHostsFile", check: anyValue, path: true}, section: "hostkeys"},
	{ssh: &sshKeyword{name: "StrictHostKeyChecking", check: oneOf("yes", "ask", "accept-new", "no", "off")}, section: "hostkeys", usage: "-o StrictHostKeyChecking=MODE", text: "ask (default; refuse with nobody to ask), yes, accept-new, no"},
	{ssh: &sshKeyword{name: "HostKeyAlias", check: anyValue}, section: "hostkeys", usage: "-o HostKeyAlias=NAME", text: "look the server's key up under NAME"},
	{ssh: &sshKeyword{name: "HashKnownHosts", check: yesNo}, section: "hostkeys", usage: "-o HashKnownHosts=yes", text: "hash the names of keys added"},
	{ssh: &sshKeyword{name: "RevokedHostKeys", check: anyValue, path: true}, section: "hostkeys", usage: "-o RevokedHostKeys=PATH", text: "refuse the keys a KRL (ssh-keygen -k) or key list names"},
	{ssh: &sshKeyword{name: "CASignatureAlgorithms", check: anyValue}, section: "hostkeys", usage: "-o CASignatureAlgorithms=LIST", text: "CA signatures taken on host certificates (no SHA-1 ssh-rsa)"},
	{ssh: &sshKeyword{name: "KnownHostsCommand", check: anyValue}, section: "hostkeys", usage: "-o KnownHostsCommand=CMD", text: "a command printing more known_hosts lines"},

	{names: []string{"timeout"}, apply: seconds(1, func(o *options) *time.Duration { return &o.Timeout }),
		section: "connection", usage: "-o timeout=SECONDS", text: "deadline of every remote call (30)"},
	{names: []string{"reconnect"}, apply: applyReconnect,
		section: "connection", usage: "-o reconnect=no", text: "after a lost connection fail (ENOTCONN), do not reconnect"},
	{names: []string{"remote_commands"}, apply: yesNoFlag("remote_commands", func(o *options) *bool { return &o.RemoteCommands }),
		section: "connection", usage: "-o remote_commands=no", text: "run no command on the server (no change feed, no bulk listings)"},
	{names: []string{"max_conns"}, apply: applyMaxConns,
		section: "connection", usage: "-o max_conns=N", text: "SFTP sessions, 1-10; large files use all (9)"},
	// sshfs's: a command run on the server instead of its sftp
	// subsystem, such as "sudo -n /usr/lib/openssh/sftp-server".
	{names: []string{"sftp_server"}, apply: text(func(o *options) *string { return &o.SFTPServer }),
		section: "connection", usage: "-o sftp_server=COMMAND", text: "run COMMAND on the server instead of its sftp subsystem"},
	// sshfs's transports without our SSH (streams.go).
	{names: []string{"ssh_command"}, apply: text(func(o *options) *string { return &o.SSHCommand }),
		section: "connection", usage: "-o ssh_command=CMD", text: "run CMD (as sshfs runs ssh) instead of our SSH"},
	{names: []string{"ssh_protocol"}, apply: applySSHProtocol, section: "connection"},
	{names: []string{"directport"}, apply: applyDirectPort,
		section: "connection", usage: "-o directport=PORT", text: "SFTP over plain TCP to host:PORT, no SSH (nothing encrypted)"},
	{names: []string{"passive", "slave"}, apply: flag(func(o *options) *bool { return &o.Passive }),
		section: "connection", usage: "-o passive", text: "SFTP on stdin/stdout (remote :DIR); foreground, no reconnect"},
	{names: []string{"compression"}, compat: &compat{notice: compressionNotice},
		section: "connection", usage: "-C, -o Compression=yes", text: "accepted, with a notice: Go's SSH has no compression"},

	// sshfs's cache options and the FUSE ones sshfs passed to libfuse
	// (caches.go); sshfs 2's names without the d beside sshfs 3's.
	{names: []string{"dcache_timeout", "cache_timeout"}, apply: wholeSeconds(func(c *cacheOptions, d time.Duration) { c.Stat, c.Dir, c.Link = d, d, d }),
		section: "caching", usage: "-o dcache_timeout=SECONDS", text: "attributes, listings and link targets (20)"},
	{names: []string{"dcache_stat_timeout", "cache_stat_timeout"}, apply: wholeSeconds(func(c *cacheOptions, d time.Duration) { c.Stat = d }),
		section: "caching", usage: "-o dcache_stat_timeout=SECONDS", text: "one of them (also dcache_dir_timeout, dcache_link_timeout)"},
	{names: []string{"dcache_dir_timeout", "cache_dir_timeout"}, apply: wholeSeconds(func(c *cacheOptions, d time.Duration) { c.Dir = d }), section: "caching"},
	{names: []string{"dcache_link_timeout", "cache_link_timeout"}, apply: wholeSeconds(func(c *cacheOptions, d time.Duration) { c.Link = d }), section: "caching"},
	{names: []string{"negative_timeout"}, apply: fractionalSeconds(func(c *cacheOptions, d time.Duration) { c.Negative = &d }),
		section: "caching", usage: "-o negative_timeout=SECONDS", text: "how long a name is answered absent (1)"},
	{names: []string{"dir_cache", "cache"}, apply: cacheYesNo(func(c *cacheOptions, on bool) { c.On = on }),
		section: "caching", usage: "-o dir_cache=no", text: "no cache of ours (the kernel's: entry_timeout=, attr_timeout=)"},
	{names: []string{"entry_timeout"}, apply: fractionalSeconds(func(c *cacheOptions, d time.Duration) { c.Entry = &d }), section: "caching"},
	{names: []string{"attr_timeout"}, apply: fractionalSeconds(func(c *cacheOptions, d time.Duration) { c.Attr = &d }), section: "caching"},
	{names: []string{"kernel_cache"}, apply: flagOpt(func(c *cacheOptions) { c.KernelCache = true }),
		section: "caching", usage: "-o kernel_cache, -o direct_io", text: "trust the page cache; or have none"},
	{names: []string{"direct_io"}, apply: flagOpt(func(c *cacheOptions) { c.DirectIO = true }), section: "caching"},
	// auto_cache is what a mount does anyway: a file's pages are kept
	// across opens while the server's size and mtime are unchanged.
	{names: []string{"auto_cache"}, apply: flagOpt(func(c *cacheOptions) { c.KernelCache = false }), section: "caching"},
	{names: []string{"dcache_max_size", "cache_max_size"}, apply: count(1, func(c *cacheOptions, n int) { c.Limits.MaxEntries = n }), section: "caching"},
	{names: []string{"dcache_clean_interval", "cache_clean_interval"}, apply: wholeSeconds(func(c *cacheOptions, d time.Duration) { c.Limits.CleanInterval = max(d, time.Nanosecond) }), section: "caching"},
	{names: []string{"dcache_min_clean_interval", "cache_min_clean_interval"}, apply: wholeSeconds(func(c *cacheOptions, d time.Duration) { c.Limits.MinCleanInterval = max(d, time.Nanosecond) }), section: "caching"},
	{names: []string{"open_timeout"}, apply: fractionalSeconds(func(c *cacheOptions, d time.Duration) { c.Open = &d }), section: "caching"},
	{names: []string{"dir_nodes"}, apply: count(2, func(c *cacheOptions, n int) { c.DirNodes = n }), section: "caching"},
	{names: []string{"max_read"}, apply: count(4096, func(c *cacheOptions, n int) { c.MaxRead = n }), section: "caching"},
	{names: []string{"max_write"}, apply: count(4096, func(c *cacheOptions, n int) { c.MaxWrite = n }), section: "caching"},

	{names: []string{"writeback"}, apply: flag(func(o *options) *bool { return &o.Writeback }),
		section: "writeback", usage: "-o writeback", text: "close returns once a new file is in a local journal"},
	{names: []string{"writeback_dir"}, apply: applyWritebackDir,
		section: "writeback", usage: "-o writeback_dir=DIR", text: "the journal (~/.local/state/sftpmount/journal/...)"},
	{names: []string{"writeback_limit"}, apply: applyWritebackLimit,
		section: "writeback", usage: "-o writeback_limit=SIZE", text: "past it new files go straight to the server (1G)"},
	{names: []string{"writeback_delay"}, apply: seconds(0, func(o *options) *time.Duration { return &o.WritebackDelay }),
		section: "writeback", usage: "-o writeback_delay=SECONDS", text: "wait after a file's last close before uploading (2)"},
	{section: "writeback", usage: "sftpmount status MOUNTPOINT", text: "the queue, failures, the connection and its counters"},
	{section: "writeback", usage: "sftpmount sync MOUNTPOINT", text: "upload everything now; non-zero naming what could not go"},

	{names: []string{"contain_symlinks"}, apply: flag(func(o *options) *bool { return &o.ContainSymlinks }), section: "symlinks"},
	{names: []string{"no_contain_symlinks"}, apply: applyNoContainSymlinks,
		section: "symlinks", usage: "-o no_contain_symlinks", text: "pass absolute and \"..\" targets through (default: EPERM)"},
	{names: []string{"transform_symlinks"}, apply: flag(func(o *options) *bool { return &o.TransformSymlinks }),
		section: "symlinks", usage: "-o transform_symlinks", text: "absolute targets inside dir become relative"},
	{names: []string{"follow_symlinks"}, apply: flag(func(o *options) *bool { return &o.FollowSymlinks }),
		section: "symlinks", usage: "-o follow_symlinks", text: "show what links point to, not the links"},

	{names: []string{"idmap"}, apply: applyIDMap,
		section: "owner", usage: "-o idmap=user", text: "the remote user's files appear as yours"},
	{names: []string{"uidfile"}, apply: text(func(o *options) *string { return &o.UIDFile }),
		section: "owner", usage: "-o idmap=file,uidfile=F,gidfile=F", text: "map ids through name:id files (nomap=error|ignore)"},
	{names: []string{"gidfile"}, apply: text(func(o *options) *string { return &o.GIDFile }), section: "owner"},
	{names: []string{"nomap"}, apply: applyNoMap, section: "owner"},
	{names: []string{"uid"}, apply: id(func(o *options) **uint32 { return &o.UID }),
		section: "owner", usage: "-o uid=N, -o gid=N", text: "show every file as owned by N"},
	{names: []string{"gid"}, apply: id(func(o *options) **uint32 { return &o.GID }), section: "owner"},
	{names: []string{"umask"}, apply: applyUmask,
		section: "owner", usage: "-o umask=OCTAL", text: "clear these bits from every mode shown"},

	{names: []string{"allow_other"}, apply: flag(func(o *options) *bool { return &o.AllowOther }),
		section: "mount", usage: "-o allow_other", text: "let other users use the mount"},
	{names: []string{"default_permissions"}, apply: flag(func(o *options) *bool { return &o.DefaultPermissions }),
		section: "mount", usage: "-o default_permissions", text: "let the kernel check permissions"},
	{names: []string{"ro"}, apply: flag(func(o *options) *bool { return &o.ReadOnly }),
		section: "mount", usage: "-o ro", text: "mount read-only"},
	{names: []string{"nonempty"}, apply: flag(func(o *options) *bool { return &o.Nonempty }),
		section: "mount", usage: "-o nonempty", text: "mount over a directory that has files"},
	{names: []string{"fsname"}, apply: text(func(o *options) *string { return &o.FsName }),
		section: "mount", usage: "-o fsname=NAME", text: "source shown by df and /proc/mounts"},
	{names: []string{"disable_hardlink"}, apply: flag(func(o *options) *bool { return &o.DisableHardlink }),
		section: "mount", usage: "-o disable_hardlink", text: "link(2) fails with EPERM"},
	{names: []string{"separate_links"}, apply: flag(func(o *options) *bool { return &o.SeparateLinks }),
		section: "mount", usage: "-o separate_links", text: "names the server linked show as separate files"},

	// sshfs's own transfer and protocol tuning (compat.go; sshfs's cache
	// options are above).
	{names: []string{"sshfs_sync"}, compat: &compat{notice: "writes are always confirmed by the server before close and fsync return"}},
	{names: []string{"no_readahead"}, compat: &compat{notice: "read-ahead starts only on sequential reads, so random reads never fetch extra data"}},
	{names: []string{"sync_readdir"}, compat: &compat{notice: "directories are always listed in one pass"}},
	{names: []string{"workaround"}, compat: &compat{notice: "the workarounds are for old servers and the C sshfs; none is needed"}},
	{names: []string{"delay_connect"}, compat: &compat{notice: "sftpmount connects before the mount appears, so a wrong host or key is reported at once"}},
	{names: []string{"no_check_root"}, compat: &compat{notice: "the remote directory is always checked at mount: a missing one is exit 7, before the mount appears"}},
	{names: []string{"use_ino"}, compat: &compat{notice: "inode numbers are always the mount's own, stable ones (see the README)"}},
	{names: []string{"readdir_ino"}, compat: &compat{notice: "inode numbers are always the mount's own, stable ones (see the README)"}},

	// libfuse options sshfs passed to the kernel (the cache ones, and
	// max_read and max_write, are above).
	{names: []string{"big_writes"}, compat: &compat{notice: "writes of up to 1 MiB are always used"}},
	{names: []string{"large_read"}, compat: &compat{notice: "the kernel's largest reads are always used"}},
	{names: []string{"writeback_cache"}, compat: &compat{notice: "writes are pipelined by sftpmount itself"}},
	{names: []string{"subtype"}, compat: &compat{notice: "the type is always fuse.sftpmount"}},
	{names: []string{"auto_unmount"}, compat: &compat{refuse: "unmount with fusermount3 -u, or stop the process with SIGTERM, which unmounts"}},
	{names: []string{"allow_root"}, compat: &compat{refuse: "use allow_other (with default_permissions to keep permission checks)"}},
}

// optionsByName and sshKeywords index the table by lowercase name.
var (
	optionsByName = map[string]*option{}
	sshKeywords   = map[string]sshKeyword{}
)

func init() {
	for i := range optionTable {
		row := &optionTable[i]
		if row.ssh != nil {
			kw := *row.ssh
			row.names = []string{kw.name}
			row.apply = func(o *options, name, value string, hasValue bool) error {
				if err := needValue(name, value, hasValue); err != nil {
					return err
				}
				if err := kw.check(value); err != nil {
					return fmt.Errorf("option %s=%s: %v", name, value, err)
				}
				o.SSH.Set(kw.name, value)
				return nil
			}
			sshKeywords[strings.ToLower(kw.name)] = kw
		}
		if row.compat != nil {
			c := *row.compat
			row.apply = func(o *options, name, value string, hasValue bool) error {
				return o.applyCompat(name, value, hasValue, c)
			}
		}
		for _, n := range row.names {
			if strings.HasPrefix(n, "-") {
				continue // a flag: parseArgs's
			}
			if optionsByName[strings.ToLower(n)] != nil {
				panic("option " + n + " has two rows")
			}
			optionsByName[strings.ToLower(n)] = row
		}
	}
}

// The appliers of the table's rows, by the kind of value they take (the
// cache options' are in caches.go).

func needValue(name, value string, hasValue bool) error {
	if !hasValue || value == "" {
		return fmt.Errorf("option %q needs a value (%s=...)", name, name)
	}
	return nil
}

// flag sets a bool; a value is refused.
func flag(field func(*options) *bool) applier {
	return func(o *options, name, _ string, hasValue bool) error {
		if hasValue {
			return fmt.Errorf("option %s takes no value", name)
		}
		*field(o) = true
		return nil
	}
}

// seconds sets a duration of whole seconds, at least least.
func seconds(least int, field func(*options) *time.Duration) applier {
	return func(o *options, name, value string, hasValue bool) error {
		if err := needValue(name, value, hasValue); err != nil {
			return err
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < least {
			return fmt.Errorf("option %s=%s: want a whole number of seconds >= %d", name, value, least)
		}
		*field(o) = time.Duration(n) * time.Second
		return nil
	}
}

// text sets a string, which must not be empty.
func text(field func(*options) *string) applier {
	return func(o *options, name, value string, hasValue bool) error {
		if err := needValue(name, value, hasValue); err != nil {
			return err
		}
		*field(o) = value
		return nil
	}
}

// id sets a numeric uid or gid.
func id(field func(*options) **uint32) applier {
	return func(o *options, name, value string, hasValue bool) error {
		if err := needValue(name, value, hasValue); err != nil {
			return err
		}
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return fmt.Errorf("option %s=%s: want a numeric id", name, value)
		}
		v := uint32(n)
		*field(o) = &v
		return nil
	}
}

func applyReconnect(o *options, _, value string, hasValue bool) error {
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
	return nil
}

// yesNoFlag sets a bool that defaults to yes: the name alone or =yes
// sets it, =no clears it.
func yesNoFlag(name string, field func(o *options) *bool) applier {
	return func(o *options, _, value string, hasValue bool) error {
		switch {
		case !hasValue || value == "yes":
			*field(o) = true
		case value == "no":
			*field(o) = false
		default:
			return fmt.Errorf("option %s=%s: want yes or no", name, value)
		}
		return nil
	}
}

func applyMaxConns(o *options, _, value string, hasValue bool) error {
	n, err := strconv.Atoi(value)
	if !hasValue || err != nil || n < 1 || n > maxMaxConns {
		return fmt.Errorf("option max_conns=%s: want a number of SFTP sessions from 1 to %d", value, maxMaxConns)
	}
	o.MaxConns, o.MaxConnsGiven = n, true
	return nil
}

func applyNoContainSymlinks(o *options, name, value string, hasValue bool) error {
	if err := flag(func(o *options) *bool { return &o.ContainSymlinks })(o, name, value, hasValue); err != nil {
		return err
	}
	o.ContainSymlinks = false
	return nil
}

func applyUmask(o *options, name, value string, hasValue bool) error {
	if err := needValue(name, value, hasValue); err != nil {
		return err
	}
	n, err := strconv.ParseUint(value, 8, 32)
	if err != nil || n > 07777 {
		return fmt.Errorf("option umask=%s: want an octal mask such as 022", value)
	}
	o.Umask = uint32(n)
	return nil
}

func applyIDMap(o *options, _, value string, _ bool) error {
	switch value {
	case "none", "user", "file":
		o.IDMap, o.IDMapUser = value, value == "user"
	default:
		return fmt.Errorf("option idmap=%s: want none, user or file", value)
	}
	return nil
}

func applyNoMap(o *options, _, value string, _ bool) error {
	switch value {
	case "ignore", "error":
		o.NoMapIgnore, o.NoMapGiven = value == "ignore", true
	default:
		return fmt.Errorf("option nomap=%s: want ignore or error", value)
	}
	return nil
}

func applyWritebackDir(o *options, name, value string, hasValue bool) error {
	if err := needValue(name, value, hasValue); err != nil {
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
	return nil
}

func applyWritebackLimit(o *options, _, value string, hasValue bool) error {
	n, err := parseSize(value)
	if !hasValue || err != nil || n < 1 {
		return fmt.Errorf("option writeback_limit=%s: want a size in bytes, such as 500M or 2G", value)
	}
	o.WritebackLimit = n
	return nil
}

// applySSHProtocol takes 2, the only SSH there is (sshfs passes -2 to
// ssh anyway).
func applySSHProtocol(o *options, name, value string, hasValue bool) error {
	switch value {
	case "2":
		return nil
	case "1":
		return fmt.Errorf("option %s=1 is not supported: only SSH protocol 2 exists", name)
	}
	return fmt.Errorf("option %s=%s: want 2", name, value)
}

func applyDirectPort(o *options, name, value string, hasValue bool) error {
	n, err := strconv.Atoi(value)
	if !hasValue || err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("option %s=%s: want a TCP port from 1 to 65535", name, value)
	}
	o.DirectPort = n
	return nil
}
