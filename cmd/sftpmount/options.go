package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// options is everything the command line can say. Defaults are set in one
// place, defaultOptions; the sshfs/ssh spelling of each -o name is beside
// its field.
type options struct {
	User       string
	Host       string
	Dir        string
	Mountpoint string

	Port              int           // -p, -o port=
	IdentityFiles     []string      // -o IdentityFile= (repeatable)
	KnownHostsFiles   []string      // -o UserKnownHostsFile=
	Timeout           time.Duration // -o timeout= (seconds): deadline of every remote call
	ConnectTimeout    time.Duration // -o ConnectTimeout= (seconds)
	Reconnect         bool          // -o reconnect[=yes|no] (default yes)
	KeepaliveInterval time.Duration // -o ServerAliveInterval= (seconds, 0 = off)
	KeepaliveCountMax int           // -o ServerAliveCountMax=
	CacheTimeout      time.Duration // -o cache_timeout= (seconds); -o cache=no sets 0

	ContainSymlinks   bool // -o contain_symlinks (default) / no_contain_symlinks
	TransformSymlinks bool // -o transform_symlinks
	FollowSymlinks    bool // -o follow_symlinks

	UID       *uint32 // -o uid=N
	GID       *uint32 // -o gid=N
	Umask     uint32  // -o umask=OCTAL
	IDMapUser bool    // -o idmap=user (idmap=none is the default)

	AllowOther         bool // -o allow_other
	DefaultPermissions bool // -o default_permissions
	ReadOnly           bool // -o ro

	Foreground bool // -f
	Debug      bool // -d, -o debug (implies -f, as in sshfs)
}

func defaultOptions() options {
	return options{
		Port:              22,
		Timeout:           30 * time.Second,
		ConnectTimeout:    15 * time.Second,
		KeepaliveInterval: 15 * time.Second,
		KeepaliveCountMax: 3,
		CacheTimeout:      20 * time.Second,
		ContainSymlinks:   true,
		Reconnect:         true,
	}
}

// defaultIdentityFiles are tried after -o IdentityFile, in ssh's order.
func defaultIdentityFiles(home string) []string {
	var out []string
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		out = append(out, filepath.Join(home, ".ssh", n))
	}
	return out
}

func defaultKnownHostsFiles(home string) []string {
	return []string{filepath.Join(home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"}
}

// ignoredMountOptions are generic mount options that fstab and mount(8)
// pass along; they change nothing for a FUSE filesystem served by us.
var ignoredMountOptions = map[string]bool{
	"rw": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "auto": true, "noauto": true, "_netdev": true,
	"atime": true, "noatime": true, "relatime": true, "user": true, "nouser": true,
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

	switch strings.ToLower(name) {
	case "port":
		if err := needValue(); err != nil {
			return err
		}
		return o.setPort(value)
	case "identityfile":
		if err := needValue(); err != nil {
			return err
		}
		o.IdentityFiles = append(o.IdentityFiles, expandHome(value))
	case "userknownhostsfile":
		if err := needValue(); err != nil {
			return err
		}
		o.KnownHostsFiles = nil
		for _, f := range strings.Fields(value) {
			o.KnownHostsFiles = append(o.KnownHostsFiles, expandHome(f))
		}
	case "timeout":
		return seconds(&o.Timeout, 1)
	case "connecttimeout":
		return seconds(&o.ConnectTimeout, 1)
	case "serveraliveinterval":
		return seconds(&o.KeepaliveInterval, 0)
	case "serveralivecountmax":
		if err := needValue(); err != nil {
			return err
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 {
			return fmt.Errorf("option %s=%s: want a whole number >= 1", name, value)
		}
		o.KeepaliveCountMax = n
	case "cache_timeout":
		return seconds(&o.CacheTimeout, 0)
	case "cache":
		switch value {
		case "yes":
		case "no":
			o.CacheTimeout = 0
		default:
			return fmt.Errorf("option cache=%s: want yes or no", value)
		}
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
		case "user":
			o.IDMapUser = true
		case "none":
			o.IDMapUser = false
		default:
			return fmt.Errorf("option idmap=%s: want user or none (idmap=file is not supported)", value)
		}
	case "allow_other":
		return flag(&o.AllowOther)
	case "default_permissions":
		return flag(&o.DefaultPermissions)
	case "ro":
		return flag(&o.ReadOnly)
	case "debug":
		return flag(&o.Debug)
	default:
		if ignoredMountOptions[name] && !hasValue {
			return nil
		}
		return fmt.Errorf("unknown option %q (see sftpmount --help)", opt)
	}
	return nil
}

func (o *options) setPort(v string) error {
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q: want a number from 1 to 65535", v)
	}
	o.Port = p
	return nil
}

// expandHome expands a leading ~/ as ssh does.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
