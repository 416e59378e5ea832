package sshconf

import (
	"net"
	"strconv"
	"time"
)

// Endpoint is one SSH server to log in to: the mount's target or one of
// the jump hosts in front of it. Resolve fills it from the command line,
// ~/.ssh/config and ssh's defaults, so that whatever works with
// `ssh alias` works here.
type Endpoint struct {
	Alias string // the name the user gave; ssh_config's Host patterns match it
	Host  string // HostName: the address dialed
	Port  int
	User  string

	Identities       []Identity // key files, in the order they are offered
	IdentitiesOnly   bool       // offer only these files, not every agent key
	CertificateFiles []string   // certificates offered with their keys
	AgentSocket      string     // "" means no agent

	// KnownHostsFiles are the user's files: an accepted new key is
	// appended to the first. GlobalKnownHostsFiles are only read.
	KnownHostsFiles       []string
	GlobalKnownHostsFiles []string
	HostKeyAlias          string // looked up in known_hosts instead of host:port
	StrictHostKeyChecking string // yes, ask, accept-new or no
	HashKnownHosts        bool   // hash the host name of keys we append
	// RevokedHostKeys is a KRL or a list of public keys refused as host
	// keys (and as CAs of host certificates); "" for none.
	RevokedHostKeys string
	// KnownHostsCommand prints more known_hosts lines (ssh_config(5)),
	// run without a shell; the tokens of the key being checked (%f, %H,
	// %I, %K, %t) are left for the check to fill in. nil for none.
	KnownHostsCommand []string

	BatchMode               bool // never prompt
	PubkeyAuthentication    bool
	KbdInteractiveAuth      bool
	PasswordAuthentication  bool
	NumberOfPasswordPrompts int

	ConnectTimeout    time.Duration
	KeepaliveInterval time.Duration // 0 disables keepalive
	KeepaliveCountMax int

	Jumps []*Endpoint // ProxyJump hosts, dialed in order before this one
	// ProxyCommand, tokens expanded, carries the connection instead of
	// TCP (proxycommand.go); "" for none. Never set with Jumps.
	ProxyCommand string

	Algorithms Algorithms // offered in the handshake and for key logins (algorithms.go)
	RekeyBytes uint64     // RekeyLimit's amount; 0: the cipher's own
	// Notices are said once when connecting: settings taken only in
	// part (an algorithm Go's SSH lacks).
	Notices []string
	// Logins are the login methods in force for the host that only
	// OpenSSH's ssh can take (logins.go): the user's are said once the
	// login is done, all of them in the line of a login that failed.
	Logins []LoginSetting
}

// Identity is a private key file to offer. Required files were named on
// the command line, so a missing one is an error; files from ssh_config
// or ssh's defaults are skipped when absent, as ssh does.
type Identity struct {
	Path     string
	Required bool
}

// Strict host key checking modes, spelled as in ssh_config.
const (
	HostKeyYes       = "yes"
	HostKeyAsk       = "ask"
	HostKeyAcceptNew = "accept-new"
	HostKeyNo        = "no"
)

// KnownHostsName is the name this endpoint's key is recorded under.
func (e *Endpoint) KnownHostsName() string {
	if e.HostKeyAlias != "" {
		// ssh looks an alias up without the port.
		return e.HostKeyAlias
	}
	return JoinHostPort(e.Host, e.Port)
}

// Addr is host:port, as dialed.
func (e *Endpoint) Addr() string { return JoinHostPort(e.Host, e.Port) }

// JoinHostPort is net.JoinHostPort with a numeric port.
func JoinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
