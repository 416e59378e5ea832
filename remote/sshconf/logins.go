package sshconf

import (
	"slices"
	"strings"
)

// Login methods OpenSSH's ssh can take and Go's SSH library cannot. They
// are not ignoredSettings: a mount logs in another way (a key, a
// password) when the server takes one, and a login that fails says which
// of them ssh would have tried, so that nobody is left guessing why a
// Kerberos user's mount asks for a password. -o ssh_command=ssh hands
// the login to ssh itself, which does them all.

// LoginSetting is one such setting in force for a host.
type LoginSetting struct {
	Keyword string // ssh_config's spelling
	Value   string
	Means   string // what ssh would do with it, for the user's line
	// UserSet is true when the command line, the user's own file or
	// -F's sets it; false when only /etc/ssh/ssh_config does (Debian's
	// says GSSAPIAuthentication yes for every host), which is named
	// only when the login fails.
	UserSet bool
}

// String is the setting as it would be written in ssh_config.
func (l LoginSetting) String() string { return l.Keyword + " " + l.Value }

// loginSetting is a keyword of loginSettings: inert lists the values
// (lower case) with which ssh logs in as sftpmount does.
type loginSetting struct {
	name  string
	inert []string
	means string
}

var loginSettings = []loginSetting{
	{"ControlMaster", []string{"no", "false"}, "ssh would share one connection between its sessions"},
	{"ControlPath", []string{"none"}, "ssh would log in through a master connection already open"},
	{"GSSAPIAuthentication", []string{"no", "false"}, "ssh would log in by Kerberos (GSSAPI)"},
	{"PKCS11Provider", []string{"none"}, "ssh would offer the keys of a PKCS#11 token (here only through ssh-agent: ssh-add -s)"},
	{"SecurityKeyProvider", []string{"internal"}, "ssh would sign with FIDO keys through that library (here only through ssh-agent)"},
}

// logins lists the login settings in force for the host, whoever set
// them.
func (s *settings) logins() []LoginSetting {
	var out []LoginSetting
	for _, k := range loginSettings {
		v, ok := s.get(k.name)
		if !ok || v == "" || slices.Contains(k.inert, strings.ToLower(v)) {
			continue
		}
		_, user := s.userSet(k.name)
		out = append(out, LoginSetting{Keyword: k.name, Value: v, Means: k.means, UserSet: user})
	}
	return out
}
