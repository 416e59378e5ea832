package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	sftpfs "github.com/sftpmount/sftpmount/fs"
)

// cacheOptions are sshfs's cache options and the FUSE ones sshfs passed to
// libfuse, with the meaning sshfs(1) 3.7 gives them. Each is applied in
// the order given, so a later one wins, as in sshfs:
// "dcache_timeout=5,dcache_stat_timeout=1" caches attributes for 1 s.
type cacheOptions struct {
	On              bool          // dir_cache=yes|no (cache=yes|no, sshfs 2)
	Stat, Dir, Link time.Duration // dcache_{stat,dir,link}_timeout; dcache_timeout sets all three
	Limits          cache.Limits  // dcache_max_size, dcache_clean_interval, dcache_min_clean_interval

	// The kernel's, as libfuse takes them (seconds, fractions allowed);
	// nil leaves the default (see fsCaches).
	Entry, Attr, Negative *time.Duration

	// Open is open_timeout (ours): how long an open for reading trusts a
	// file's size and mtime as the server last told them; nil: default.
	Open *time.Duration

	// DirNodes is dir_nodes (ours): nodes one directory keeps before the
	// older ones are handed back to the kernel; 0: the default.
	DirNodes int

	KernelCache bool // kernel_cache: keep a file's pages across opens whatever the server says
	DirectIO    bool // direct_io: no page cache, every read and write reaches the server
	MaxRead     int  // max_read=N: the kernel's largest read, bytes (0: its own)
	MaxWrite    int  // max_write=N: the kernel's largest write, bytes
}

const (
	defaultCacheTimeout = 20 * time.Second // sshfs's
	// defaultNegativeTimeout: a name another client made is found
	// within about a second (libfuse's default is 0, and sshfs caches no
	// absent names; a listing of ours answers them, see fs.Caches).
	defaultNegativeTimeout = time.Second
	// libfuseTimeout is libfuse's entry_timeout and attr_timeout, which
	// sshfs leaves as they are: the kernel's default with dir_cache=no.
	libfuseTimeout = time.Second
	// defaultOpenTimeout: a file another client changed is read fresh
	// by an open more than a second after the server last told us its
	// size and mtime; within it, an open whose pages the kernel holds
	// costs nothing.
	defaultOpenTimeout = time.Second
	maxWriteLimit      = 1 << 20 // the largest write go-fuse takes
)

func defaultCacheOptions() cacheOptions {
	return cacheOptions{On: true, Stat: defaultCacheTimeout, Dir: defaultCacheTimeout, Link: defaultCacheTimeout,
		Limits: cache.DefaultLimits, MaxWrite: maxWriteLimit}
}

// fsCaches is what the node tree and the kernel are told. The kernel
// keeps entries and attributes as long as we do (sshfs's answers come
// from its own cache for dcache_stat_timeout anyway, whatever libfuse's
// one second lets the kernel keep), libfuse's second with dir_cache=no.
func (c cacheOptions) fsCaches() sftpfs.Caches {
	fc := sftpfs.Caches{Attr: c.Stat, Dir: c.Dir, Link: c.Link, Limits: c.Limits}
	kernel := c.Stat
	if !c.On {
		fc.Attr, fc.Dir, fc.Link = 0, 0, 0
		kernel = libfuseTimeout
	}
	fc.KernelEntry, fc.KernelAttr = orDefault(c.Entry, kernel), orDefault(c.Attr, kernel)
	fc.Negative = orDefault(c.Negative, min(defaultNegativeTimeout, fc.Dir))
	fc.Open = min(orDefault(c.Open, defaultOpenTimeout), fc.Attr)
	fc.DirNodes = c.DirNodes
	return fc
}

func orDefault(d *time.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return *d
}

// The appliers of the cache options' rows in the option table
// (optiontable.go), by the kind of value they take.

func cacheYesNo(set func(*cacheOptions, bool)) applier {
	return func(o *options, name, value string, _ bool) error {
		switch value {
		case "yes":
			set(&o.Cache, true)
		case "no":
			set(&o.Cache, false)
		default:
			return fmt.Errorf("option %s=%s: want yes or no", name, value)
		}
		return nil
	}
}

func wholeSeconds(set func(*cacheOptions, time.Duration)) applier {
	return func(o *options, name, value string, hasValue bool) error {
		n, err := strconv.ParseUint(value, 10, 31)
		if !hasValue || err != nil {
			return fmt.Errorf("option %s=%s: want a whole number of seconds >= 0", name, value)
		}
		set(&o.Cache, time.Duration(n)*time.Second)
		return nil
	}
}

func fractionalSeconds(set func(*cacheOptions, time.Duration)) applier {
	return func(o *options, name, value string, hasValue bool) error {
		f, err := strconv.ParseFloat(value, 64)
		if !hasValue || err != nil || f < 0 || f > 1e9 {
			return fmt.Errorf("option %s=%s: want a number of seconds >= 0, such as 0.5", name, value)
		}
		set(&o.Cache, time.Duration(f*float64(time.Second)))
		return nil
	}
}

func count(least int, set func(*cacheOptions, int)) applier {
	return func(o *options, name, value string, hasValue bool) error {
		n, err := strconv.Atoi(value)
		if !hasValue || err != nil || n < least {
			return fmt.Errorf("option %s=%s: want a whole number >= %d", name, value, least)
		}
		if name == "max_write" && n > maxWriteLimit {
			return fmt.Errorf("option max_write=%s: at most %d (the largest write go-fuse takes)", value, maxWriteLimit)
		}
		set(&o.Cache, n)
		return nil
	}
}

func flagOpt(set func(*cacheOptions)) applier {
	return func(o *options, name, _ string, hasValue bool) error {
		if hasValue {
			return fmt.Errorf("option %s takes no value", name)
		}
		set(&o.Cache)
		return nil
	}
}
