package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// errHelp and errVersion are not failures: the command prints and exits 0.
var (
	errHelp    = errors.New("help")
	errVersion = errors.New("version")
)

// parseArgs reads sshfs's argv: [user@]host:[dir] MOUNTPOINT with -p PORT,
// -o opt[,opt...], -f and -d anywhere among them.
func parseArgs(args []string) (options, error) {
	o := defaultOptions()
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs an argument", a)
			}
			i++
			return args[i], nil
		}
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case a == "-h" || a == "--help":
			return o, errHelp
		case a == "-V" || a == "--version":
			return o, errVersion
		case a == "-f":
			o.Foreground = true
		case a == "-d":
			o.Debug = true
		case a == "-s":
			o.Notices = append(o.Notices, "-s has no effect: requests are always served concurrently, each with its own deadline")
		case a == "-1":
			return o, fmt.Errorf("-1 is not supported: only SSH protocol 2 exists")
		case a == "-C":
			// sshfs passes it to ssh: compression.
			o.Notices = append(o.Notices, "-C: "+compressionNotice)
		case a == "-F":
			v, err := next()
			if err != nil {
				return o, err
			}
			o.SSHConfigFile = v
		case a == "-p" || a == "-o":
			v, err := next()
			if err != nil {
				return o, err
			}
			if err := o.applyFlag(a, v); err != nil {
				return o, err
			}
		case strings.HasPrefix(a, "-p") || strings.HasPrefix(a, "-o"):
			if err := o.applyFlag(a[:2], a[2:]); err != nil {
				return o, err
			}
		case strings.HasPrefix(a, "-") && a != "-":
			return o, fmt.Errorf("unknown flag %q (see sftpmount --help)", a)
		default:
			positional = append(positional, a)
		}
	}
	if o.Debug {
		o.Foreground = true
	}
	if len(positional) != 2 {
		return o, fmt.Errorf("want two arguments, [user@]host:[dir] and a mountpoint; got %d", len(positional))
	}
	if err := o.setRemote(positional[0]); err != nil {
		return o, err
	}
	if err := o.checkTransport(); err != nil {
		return o, err
	}
	if o.User != "" {
		o.SSH.Set("User", o.User)
	}
	o.Mountpoint = positional[1]
	if o.IDMap == "file" && o.UIDFile == "" && o.GIDFile == "" {
		return o, fmt.Errorf("option idmap=file needs uidfile= or gidfile= (or both)")
	}
	if o.IDMap != "file" && (o.UIDFile != "" || o.GIDFile != "" || o.NoMapGiven) {
		return o, fmt.Errorf("options uidfile=, gidfile= and nomap= are for idmap=file")
	}
	return o, o.makePathsAbsolute()
}

// makePathsAbsolute resolves local paths against the working directory the
// user ran us in; the background process runs in /.
func (o *options) makePathsAbsolute() error {
	var err error
	abs := func(p string) string {
		// ~ and %d are expanded later, against the home directory.
		if p == "" || strings.HasPrefix(p, "~") || strings.HasPrefix(p, "%") || err != nil {
			return p
		}
		var a string
		a, err = filepath.Abs(p)
		return a
	}
	o.Mountpoint = abs(o.Mountpoint)
	if o.SSHConfigFile != "" {
		o.SSHConfigFile = abs(o.SSHConfigFile)
	}
	o.UIDFile, o.GIDFile = abs(o.UIDFile), abs(o.GIDFile)
	for key, values := range o.SSH {
		if !sshKeywords[key].path {
			continue
		}
		for i, v := range values {
			paths := strings.Fields(v)
			for j := range paths {
				paths[j] = abs(paths[j])
			}
			values[i] = strings.Join(paths, " ")
		}
	}
	if err != nil {
		return fmt.Errorf("cannot make paths absolute: %v", err)
	}
	return nil
}

func (o *options) applyFlag(flag, v string) error {
	if flag == "-p" {
		return o.setOption("Port=" + v)
	}
	for _, opt := range splitOptions(v) {
		if opt == "" {
			continue
		}
		if err := o.setOption(opt); err != nil {
			return err
		}
	}
	return nil
}

// splitOptions splits -o's list at commas, as libfuse (and so sshfs) does:
// "\," is a comma inside a value (a ProxyCommand's), "\\" a backslash.
func splitOptions(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && (v[i+1] == ',' || v[i+1] == '\\'):
			i++
			cur.WriteByte(v[i])
		case v[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(out, cur.String())
}

// setRemote parses [user@]host:[dir]; host may be a bracketed IPv6 address.
func (o *options) setRemote(spec string) error {
	bad := fmt.Errorf("remote %q: want [user@]host:[dir]", spec)
	if at := strings.LastIndex(strings.SplitN(spec, ":", 2)[0], "@"); at >= 0 {
		o.User, spec = spec[:at], spec[at+1:]
		if o.User == "" {
			return bad
		}
		if !sshconf.ValidUser(o.User) {
			return &sshconf.UserError{User: o.User, From: "before the host"}
		}
	}
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]")
		if end < 0 || len(spec) < end+2 || spec[end+1] != ':' {
			return bad
		}
		o.Host, o.Dir = spec[1:end], spec[end+2:]
	} else {
		host, dir, ok := strings.Cut(spec, ":")
		if !ok {
			return bad
		}
		o.Host, o.Dir = host, dir
	}
	switch {
	case o.Passive && o.Host == "":
		// SFTP comes on stdin: a host only names the mount (sshfs
		// takes host:DIR and :DIR alike).
		return nil
	case o.Host == "":
		return bad
	}
	if !validHostname(o.Host) {
		return fmt.Errorf("invalid hostname %q: a host name or address does not start with '-' or hold spaces, control characters or any of %s", o.Host, hostnameMetachars)
	}
	return nil
}

// hostnameMetachars are refused in a host, as OpenSSH's ssh (9.6) refuses
// them: shell and ssh_config metacharacters. sshfs refuses a host that
// starts with '-' (3.7.5), which ssh would take as an option; we run no
// ssh, but such a host is a mistake (an option written where the host
// goes), and is said to be one before anything is looked up.
const hostnameMetachars = "'`\"$\\;&<>|(){}"

func validHostname(h string) bool {
	if strings.HasPrefix(h, "-") {
		return false
	}
	for _, r := range h {
		if strings.ContainsRune(hostnameMetachars, r) || r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
