package sshconf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kevinburke/ssh_config"
)

// SSHConfig is the ssh_config files in force: -F's file alone, or the
// user's ~/.ssh/config followed by /etc/ssh/ssh_config, as ssh reads them.
// For a keyword with one value the first file (and the first matching
// Host block) that sets it wins.
type SSHConfig struct {
	files []*ssh_config.Config
	names []string

	// ssh, when set, is OpenSSH's client, which reads the files for
	// us (sshg.go); explicit and home say which files (and, for the
	// lines naming them, which file was -F's and where home is).
	ssh, explicit, home string
}

// LoadSSHConfig reads the files, with OpenSSH's own client when it is
// installed (see sshg.go). explicit is -F's argument ("" for the usual
// files); a missing usual file is no error, a missing -F file is.
func LoadSSHConfig(explicit, home string) (*SSHConfig, error) {
	ssh, _ := exec.LookPath("ssh")
	return LoadSSHConfigWith(explicit, home, ssh)
}

// LoadSSHConfigWith is LoadSSHConfig with ssh's path given ("": parse
// the files with kevinburke/ssh_config).
func LoadSSHConfigWith(explicit, home, ssh string) (*SSHConfig, error) {
	if ssh != "" {
		if explicit != "" && !exists(explicit) {
			return nil, configError(fmt.Errorf("ssh config %s: no such file", explicit))
		}
		return &SSHConfig{ssh: ssh, explicit: explicit, home: home}, nil
	}
	paths := []string{filepath.Join(home, ".ssh", "config"), systemConfig}
	if explicit != "" {
		paths = []string{explicit}
	}
	c := &SSHConfig{explicit: explicit, home: home}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return nil, configError(fmt.Errorf("ssh config %s: %v", p, pathErr(err)))
		}
		f, err := ssh_config.DecodeBytes(data)
		if err != nil {
			return nil, configError(fmt.Errorf("ssh config %s: %v", p, err))
		}
		c.files = append(c.files, f)
		c.names = append(c.names, p)
	}
	return c, nil
}

// Overrides are ssh_config keywords given on the command line (-o Key=value,
// -p, user@), lower-cased. They win over every file, as in ssh.
type Overrides map[string][]string

// Set records a command-line value; IdentityFile, CertificateFile and the
// known-hosts lists accumulate, other keywords keep the last value given.
func (o Overrides) Set(keyword, value string) {
	k := strings.ToLower(keyword)
	if multiValued[k] {
		o[k] = append(o[k], value)
		return
	}
	o[k] = []string{value}
}

var multiValued = map[string]bool{"identityfile": true, "certificatefile": true}

// settings answers keyword lookups for one host alias: command line first,
// then the files.
type settings struct {
	alias string
	over  Overrides
	cfg   *SSHConfig
	g     *sshG // ssh -G's answer, when ssh reads the files
	err   error

	notices []string // said once when connecting (Endpoint.Notices)
}

func (s *settings) get(keyword string) (string, bool) {
	k := strings.ToLower(keyword)
	if v, ok := s.over[k]; ok && len(v) > 0 {
		return v[len(v)-1], true
	}
	if s.g != nil {
		if v, ok := s.g.set(k); ok {
			return v[0], true
		}
		return "", false
	}
	for i, f := range s.cfg.files {
		v, err := f.Get(s.alias, keyword)
		if err != nil && s.err == nil {
			s.err = fmt.Errorf("ssh config %s: %v", s.cfg.names[i], err)
		}
		if v != "" {
			return v, true
		}
	}
	return "", false
}

// all returns every value from the command line, then every value from
// the files (ssh accumulates IdentityFile and CertificateFile this way).
func (s *settings) all(keyword string) (cmdline, files []string) {
	cmdline = s.over[strings.ToLower(keyword)]
	if s.g != nil {
		// ssh lists the command line's first.
		v, _ := s.g.set(keyword)
		if len(v) >= len(cmdline) && slices.Equal(v[:len(cmdline)], cmdline) {
			v = v[len(cmdline):]
		}
		return cmdline, v
	}
	for i, f := range s.cfg.files {
		v, err := f.GetAll(s.alias, keyword)
		if err != nil && s.err == nil {
			s.err = fmt.Errorf("ssh config %s: %v", s.cfg.names[i], err)
		}
		files = append(files, v...)
	}
	return cmdline, files
}

func (s *settings) fail(keyword, value, want string) {
	if s.err == nil {
		s.err = fmt.Errorf("%s %q for host %s: want %s", keyword, value, s.alias, want)
	}
}

func (s *settings) str(keyword, def string) string {
	if v, ok := s.get(keyword); ok {
		return v
	}
	return def
}

func (s *settings) boolean(keyword string, def bool) bool {
	v, ok := s.get(keyword)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "yes", "true":
		return true
	case "no", "false":
		return false
	}
	s.fail(keyword, v, "yes or no")
	return def
}

func (s *settings) number(keyword string, def, least, most int) int {
	v, ok := s.get(keyword)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least || n > most {
		s.fail(keyword, v, fmt.Sprintf("a number from %d to %d", least, most))
		return def
	}
	return n
}

// rekeyLimit reads RekeyLimit's amount of data ("default" or absent: 0,
// the cipher's own). Its second field, a time, Go's SSH cannot do: a
// notice says so.
func (s *settings) rekeyLimit() uint64 {
	v, ok := s.get("RekeyLimit")
	if !ok {
		return 0
	}
	f := strings.Fields(v)
	if len(f) > 1 && f[1] != "none" && f[1] != "0" {
		s.notices = append(s.notices, fmt.Sprintf("RekeyLimit %s: Go's SSH library rekeys by amount only, not after a time", f[1]))
	}
	if len(f) == 0 || f[0] == "default" || f[0] == "0" {
		return 0
	}
	n, unit := f[0], uint64(1)
	switch strings.ToUpper(n[len(n)-1:]) {
	case "K":
		unit, n = 1<<10, n[:len(n)-1]
	case "M":
		unit, n = 1<<20, n[:len(n)-1]
	case "G":
		unit, n = 1<<30, n[:len(n)-1]
	}
	b, err := strconv.ParseUint(n, 10, 64)
	if err != nil || b*unit < 16 {
		s.fail("RekeyLimit", v, "an amount of data such as 1G, at least 16 bytes")
		return 0
	}
	return b * unit
}

func (s *settings) seconds(keyword string, def time.Duration, least int) time.Duration {
	if v, ok := s.get(keyword); ok && strings.EqualFold(v, "none") {
		return def
	}
	return time.Duration(s.number(keyword, int(def/time.Second), least, 1<<30)) * time.Second
}

// Defaults are sftpmount's own where they differ from ssh's: a connect
// timeout and keepalive are on, since a mount must notice a dead link.
type Defaults struct {
	User              string // the local user name
	Home              string // for ~ and %d
	ConnectTimeout    time.Duration
	KeepaliveInterval time.Duration
	KeepaliveCountMax int
	// StrictHostKeyChecking when neither command line nor files set it:
	// ask with a terminal, yes without.
	StrictHostKeyChecking string
}

// Resolve builds the endpoint for alias the way ssh would: command-line
// values, then the config files, then defaults; then ProxyJump hosts, each
// resolved the same way as a host of its own.
func (c *SSHConfig) Resolve(alias string, over Overrides, def Defaults) (*Endpoint, error) {
	return c.resolve(alias, over, def, 0)
}

func (c *SSHConfig) resolve(alias string, over Overrides, def Defaults, depth int) (*Endpoint, error) {
	if depth > 8 {
		return nil, configError(fmt.Errorf("ProxyJump: more than 8 hops (a loop?) at %s", alias))
	}
	// A name from the command line is checked before ssh -G runs the
	// files' Match exec commands with it as %r.
	for _, u := range over["user"] {
		if err := checkUser(u, "given for host "+alias); err != nil {
			return nil, err
		}
	}
	s := &settings{alias: alias, over: over, cfg: c}
	if c.ssh != "" {
		g, err := runSSHG(c.ssh, alias, c.explicit, c.home, over)
		if err != nil {
			return nil, configError(err)
		}
		s.g = g
	}
	e := &Endpoint{Alias: alias, Notices: s.noticeIgnored()}
	e.User = s.str("User", def.User)
	if err := checkUser(e.User, "ssh config for host "+alias); err != nil {
		return nil, err
	}
	e.Port = s.number("Port", 22, 1, 65535)
	x := expander{alias: alias, localUser: def.User, home: def.Home, user: e.User, port: e.Port}
	e.Host = x.expand(s.str("HostName", alias))
	x.host = e.Host

	cmdKeys, fileKeys := s.all("IdentityFile")
	for _, p := range cmdKeys {
		e.Identities = append(e.Identities, Identity{Path: x.path(p), Required: true})
	}
	for _, p := range fileKeys {
		e.Identities = append(e.Identities, Identity{Path: x.path(p)})
	}
	if len(e.Identities) == 0 {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			e.Identities = append(e.Identities, Identity{Path: filepath.Join(def.Home, ".ssh", n)})
		}
	}
	cmdCerts, fileCerts := s.all("CertificateFile")
	for _, p := range append(cmdCerts, fileCerts...) {
		e.CertificateFiles = append(e.CertificateFiles, x.path(p))
	}
	e.IdentitiesOnly = s.boolean("IdentitiesOnly", false)
	switch agent := s.str("IdentityAgent", "SSH_AUTH_SOCK"); {
	case agent == "SSH_AUTH_SOCK":
		e.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	case strings.EqualFold(agent, "none"):
	case strings.HasPrefix(agent, "$"):
		e.AgentSocket = os.Getenv(agent[1:])
	default:
		e.AgentSocket = x.path(agent)
	}

	e.KnownHostsFiles = x.paths(s.str("UserKnownHostsFile", "~/.ssh/known_hosts ~/.ssh/known_hosts2"))
	e.GlobalKnownHostsFiles = x.paths(s.str("GlobalKnownHostsFile", "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2"))
	e.HostKeyAlias = s.str("HostKeyAlias", "")
	e.HashKnownHosts = s.boolean("HashKnownHosts", false)
	if v := s.str("RevokedHostKeys", "none"); !strings.EqualFold(v, "none") {
		e.RevokedHostKeys = x.path(v)
	}
	if v := s.str("KnownHostsCommand", "none"); !strings.EqualFold(v, "none") {
		// Split first, as ssh does: a token's value stays one word.
		argv, err := splitArgv(v)
		if err != nil || len(argv) == 0 {
			s.fail("KnownHostsCommand", v, "a command and its arguments")
		}
		for i := range argv {
			if i > 0 {
				argv[i] = x.expand(argv[i])
			}
		}
		e.KnownHostsCommand = argv
	}
	strict := s.str("StrictHostKeyChecking", def.StrictHostKeyChecking)
	switch strings.ToLower(strict) {
	case "yes", "true":
		e.StrictHostKeyChecking = HostKeyYes
	case "ask":
		e.StrictHostKeyChecking = HostKeyAsk
	case "accept-new":
		e.StrictHostKeyChecking = HostKeyAcceptNew
	case "no", "off", "false":
		e.StrictHostKeyChecking = HostKeyNo
	default:
		s.fail("StrictHostKeyChecking", strict, "yes, ask, accept-new or no")
	}

	e.BatchMode = s.boolean("BatchMode", false)
	e.PubkeyAuthentication = s.boolean("PubkeyAuthentication", true)
	e.KbdInteractiveAuth = s.boolean("KbdInteractiveAuthentication", s.boolean("ChallengeResponseAuthentication", true))
	e.PasswordAuthentication = s.boolean("PasswordAuthentication", true)
	e.NumberOfPasswordPrompts = s.number("NumberOfPasswordPrompts", 3, 1, 100)

	e.ConnectTimeout = s.seconds("ConnectTimeout", def.ConnectTimeout, 1)
	e.KeepaliveInterval = s.seconds("ServerAliveInterval", def.KeepaliveInterval, 0)
	e.KeepaliveCountMax = s.number("ServerAliveCountMax", def.KeepaliveCountMax, 1, 1000)
	e.RekeyBytes = s.rekeyLimit()

	e.Algorithms = s.resolveAlgorithms(&e.Notices)
	e.Notices = append(e.Notices, s.notices...)
	jumps, proxy := s.proxies()
	lx := x
	if !strings.EqualFold(jumps, "none") {
		lx.jump = jumps // ControlPath's %C and %j
	}
	e.Logins = s.logins(lx)
	if proxy != "" {
		x.hostKeyAlias, x.jump = e.HostKeyAlias, ""
		e.ProxyCommand = x.expand(proxy)
		if depth > 0 && s.err == nil {
			// A jump host past the first is reached through the one
			// before it: a command of its own has nowhere to go.
			s.err = fmt.Errorf("ProxyCommand for jump host %s: only the first host of a ProxyJump chain can be reached through a command; put the command on that host's entry", alias)
		}
	}
	if s.err != nil {
		return nil, configError(s.err)
	}
	if !strings.EqualFold(jumps, "none") {
		for _, spec := range strings.Split(jumps, ",") {
			j, err := c.resolveJump(strings.TrimSpace(spec), def, depth)
			if err != nil {
				return nil, err
			}
			e.Jumps = append(e.Jumps, j...)
		}
	}
	return e, nil
}

// proxies returns the ProxyJump list ("none" for none) or the
// ProxyCommand ("" for none): whichever of the two comes first, on the
// command line and then in the files, wins, "none" included, as ssh has it
// ("whichever is specified first will prevent later instances of the
// other option from taking effect").
func (s *settings) proxies() (jumps, command string) {
	pick := func(key, value string) (string, string) {
		if strings.EqualFold(key, "proxycommand") {
			if strings.EqualFold(value, "none") {
				return "none", ""
			}
			return "none", value
		}
		return value, ""
	}
	j, jok := s.over["proxyjump"]
	c, cok := s.over["proxycommand"]
	switch {
	case jok && cok && len(j) > 0 && len(c) > 0:
		if s.err == nil {
			s.err = errors.New("both -o ProxyJump and -o ProxyCommand given: give one")
		}
		return "none", ""
	case jok && len(j) > 0:
		return pick("proxyjump", j[len(j)-1])
	case cok && len(c) > 0:
		return pick("proxycommand", c[len(c)-1])
	}
	if s.g != nil {
		// ssh has kept the first of the two already.
		if v, ok := s.g.set("proxycommand"); ok {
			return pick("proxycommand", v[0])
		}
		if v, ok := s.g.set("proxyjump"); ok {
			return pick("proxyjump", v[0])
		}
		return "none", ""
	}
	for i, f := range s.cfg.files {
		key, value, err := firstOf(f, s.alias, "proxyjump", "proxycommand")
		if err != nil && s.err == nil {
			s.err = fmt.Errorf("ssh config %s: %v", s.cfg.names[i], err)
		}
		if key != "" {
			return pick(key, value)
		}
	}
	return "none", ""
}

// firstOf finds which of keys a file sets first for alias (in the order
// of its lines, Includes where they stand) and its value.
func firstOf(f *ssh_config.Config, alias string, keys ...string) (key, value string, err error) {
	for _, h := range f.Hosts {
		if !h.Matches(alias) {
			continue
		}
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				for _, k := range keys {
					if strings.EqualFold(n.Key, k) {
						return k, n.Value, nil
					}
				}
			case *ssh_config.Include:
				var found []string
				for _, k := range keys {
					if v := n.Get(alias, k); v != "" {
						key, value = k, v
						found = append(found, k)
					}
				}
				if len(found) > 1 {
					return "", "", fmt.Errorf("an Include sets both %s for %s, and which comes first cannot be told: keep one", strings.Join(found, " and "), alias)
				}
				if key != "" {
					return key, value, nil
				}
			}
		}
	}
	return "", "", nil
}

// resolveJump resolves one ProxyJump entry, [user@]host[:port], as a host
// of its own; its own ProxyJump hosts come first, as in ssh.
func (c *SSHConfig) resolveJump(spec string, def Defaults, depth int) ([]*Endpoint, error) {
	over := Overrides{}
	rest := strings.TrimPrefix(spec, "ssh://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		over.Set("User", rest[:at])
		rest = rest[at+1:]
	}
	host := rest
	if h, p, err := splitJumpHostPort(rest); err == nil {
		host = h
		if p != "" {
			over.Set("Port", p)
		}
	}
	if host == "" {
		return nil, configError(fmt.Errorf("ProxyJump %q: want [user@]host[:port]", spec))
	}
	j, err := c.resolve(host, over, def, depth+1)
	if err != nil {
		return nil, err
	}
	hops := append(j.Jumps, j)
	j.Jumps = nil
	return hops, nil
}

func splitJumpHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", errors.New("unclosed [")
		}
		host, rest := s[1:end], s[end+1:]
		return host, strings.TrimPrefix(rest, ":"), nil
	}
	if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		return h, p, nil
	}
	return s, "", nil
}

// ConfigError is a setting that cannot be used: a bad value, a file that
// cannot be read, or what ssh -G said. The command exits with its own
// code for it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configError(err error) error { return &ConfigError{Err: err} }

// pathErr drops an *os.PathError's path, which the message names already.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
