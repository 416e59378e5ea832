package sshconf

import (
	"fmt"
	"slices"
	"strings"
)

// systemConfig is the system-wide ssh_config, read after the user's.
const systemConfig = "/etc/ssh/ssh_config"

// ignoredSetting is an ssh_config keyword that changes how ssh would
// connect, whom it would trust or how it would log in, and that sftpmount
// does not do (RevokedHostKeys, KnownHostsCommand and
// CASignatureAlgorithms it does). Set to a value that matters, it gets a
// notice rather than being dropped in silence. Login methods only
// OpenSSH's ssh can take are loginSettings (logins.go), named once a
// login is done another way or in the line of a login that failed.
type ignoredSetting struct {
	name  string   // ssh_config's spelling
	inert []string // values (lower case) with which ssh would do as sftpmount does
	why   string
}

var ignoredSettings = []ignoredSetting{
	{"AddressFamily", []string{"any"}, "both IPv4 and IPv6 are tried"},
	{"BindAddress", nil, "connections leave from the system's choice of address"},
	{"BindInterface", nil, "connections leave from the system's choice of interface"},
	{"CheckHostIP", []string{"no", "false"}, "the server's address is not looked up in known_hosts apart from its name"},
	{"Compression", []string{"no", "false"}, "Go's SSH library has no compression"},
	{"HostbasedAuthentication", []string{"no", "false"}, "host-based login is not offered"},
	{"PreferredAuthentications", nil, "methods are tried in ssh's default order: keys, keyboard-interactive, password"},
	{"ProxyUseFdpass", []string{"no", "false"}, "the ProxyCommand's stdin and stdout carry the connection"},
	{"UpdateHostKeys", []string{"no", "false"}, "keys the server offers after login are not recorded in known_hosts"},
	{"VerifyHostKeyDNS", []string{"no", "false"}, "SSHFP records are not looked up; the key is checked against known_hosts only"},
}

// noticeIgnored names each ignored setting the user set for the host.
// One the system's file sets and the user's files leave alone is not
// named: Debian's /etc/ssh/ssh_config says GSSAPIAuthentication yes, and
// every mount would say so.
func (s *settings) noticeIgnored() []string {
	var out []string
	for _, k := range ignoredSettings {
		v, ok := s.userSet(k.name)
		if !ok || slices.Contains(k.inert, strings.ToLower(v)) {
			continue
		}
		out = append(out, fmt.Sprintf("ssh config sets %s %s for %s: not supported, going on without it (%s)", k.name, v, s.alias, k.why))
	}
	return out
}

// userSet returns keyword's value when the command line or the user's
// own file (or -F's) sets it; with ssh -G, the value in force when the
// user's file alone differs from ssh's default.
func (s *settings) userSet(keyword string) (string, bool) {
	k := strings.ToLower(keyword)
	if v, ok := s.over[k]; ok && len(v) > 0 {
		return v[len(v)-1], true
	}
	if s.g != nil {
		v, ok := s.g.set(k)
		if !ok {
			return "", false
		}
		return strings.Join(v, " "), s.g.userSet(k)
	}
	for i, f := range s.cfg.files {
		if v, _ := f.Get(s.alias, keyword); v != "" {
			return v, s.cfg.names[i] != systemConfig
		}
	}
	return "", false
}
