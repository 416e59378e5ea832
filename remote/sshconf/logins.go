package sshconf

import (
	"path/filepath"
	"slices"
	"strings"
)

// Login methods OpenSSH's ssh can take and Go's SSH library cannot:
// Kerberos (GSSAPIAuthentication), a master connection
// (ControlMaster/ControlPath), a PKCS#11 token's keys (PKCS11Provider)
// and a FIDO library (SecurityKeyProvider). They are not ignoredSettings:
// a mount logs in another way (a key, a password) when the server takes
// one, and a login that fails says which of them ssh would have tried
// and where each is set, so that nobody is left guessing why a Kerberos
// user's mount was refused. -o ssh_command=ssh hands the login to ssh
// itself, which does them all. What is said when is transport's
// (logins.go there).

// LoginSetting is one such setting in force for a host.
type LoginSetting struct {
	// Setting is as ssh_config would write it ("GSSAPIAuthentication
	// yes"); ControlMaster, ControlPath and ControlPersist are one
	// setting, "ControlMaster auto, ControlPath /tmp/cm-…".
	Setting string
	Means   string // what ssh would do with it, for the user's line
	// From is where it is set: "-o" for the command line, else the
	// file's path, with ~ for the home.
	From string
	// UserSet is true when the command line, -F's file or the user's
	// own file sets it; false when only /etc/ssh/ssh_config does
	// (Debian's says GSSAPIAuthentication yes for every host), which is
	// named only when the login fails.
	UserSet bool
	// ControlPath is the master's socket, tokens expanded, for the
	// Control setting ("" for the others): a master listening there is
	// one ssh would log in through.
	ControlPath string
}

// loginSetting is a keyword of loginSettings: inert lists the values
// (lower case) with which ssh logs in as sftpmount does.
type loginSetting struct {
	name  string
	inert []string
	means string
}

var loginSettings = []loginSetting{
	{"GSSAPIAuthentication", []string{"no", "false"}, "ssh would log in by Kerberos (GSSAPI)"},
	{"PKCS11Provider", []string{"none"}, "ssh would offer the keys of a PKCS#11 token (here only through ssh-agent: ssh-add -s)"},
	{"SecurityKeyProvider", []string{"internal"}, "ssh would sign with FIDO keys through that library (here only through ssh-agent)"},
}

// controlSettings make up the one Control setting, in force when
// ControlMaster or ControlPath is; inert as in loginSetting.
var controlSettings = []loginSetting{
	{"ControlMaster", []string{"no", "false"}, ""},
	{"ControlPath", []string{"none"}, ""},
	{"ControlPersist", []string{"no", "false"}, ""},
}

const controlMeans = "ssh would share one connection between its sessions, through a master's socket"

// logins lists the login settings in force for the host, whoever set
// them; x expands ControlPath's tokens.
func (s *settings) logins(x expander) []LoginSetting {
	var out []LoginSetting
	var control LoginSetting
	var parts []string
	for _, k := range controlSettings {
		v, ok := s.get(k.name)
		if !ok || v == "" || slices.Contains(k.inert, strings.ToLower(v)) {
			continue
		}
		if k.name == "ControlPersist" && len(parts) == 0 {
			break // only with a master or a path
		}
		parts = append(parts, k.name+" "+v)
		from, user := s.setBy(k.name)
		if control.From == "" || user && !control.UserSet {
			control.From, control.UserSet = from, user
		}
		if k.name == "ControlPath" {
			control.ControlPath = x.path(v)
		}
	}
	if len(parts) > 0 {
		control.Setting, control.Means = strings.Join(parts, ", "), controlMeans
		out = append(out, control)
	}
	for _, k := range loginSettings {
		v, ok := s.get(k.name)
		if !ok || v == "" || slices.Contains(k.inert, strings.ToLower(v)) {
			continue
		}
		from, user := s.setBy(k.name)
		out = append(out, LoginSetting{Setting: k.name + " " + v, Means: k.means, From: from, UserSet: user})
	}
	return out
}

// setBy says where keyword's value in force is set: "-o" for the
// command line, else the file (~ for the home), and whether that is the
// user's choice rather than the system file's default.
func (s *settings) setBy(keyword string) (from string, user bool) {
	k := strings.ToLower(keyword)
	if v, ok := s.over[k]; ok && len(v) > 0 {
		return "-o", true
	}
	if s.g != nil {
		switch {
		case !s.g.usual:
			return s.cfg.tilde(s.cfg.explicit), true
		case s.g.userSet(k):
			return s.cfg.tilde(s.g.userFile), true
		}
		return systemConfig, false
	}
	for i, f := range s.cfg.files {
		if v, _ := f.Get(s.alias, keyword); v != "" {
			return s.cfg.tilde(s.cfg.names[i]), s.cfg.explicit != "" || s.cfg.names[i] != systemConfig
		}
	}
	return systemConfig, false
}

// tilde writes a path in the home as ~/….
func (c *SSHConfig) tilde(p string) string {
	if c.home == "" {
		return p
	}
	if rel, err := filepath.Rel(c.home, p); err == nil && filepath.IsLocal(rel) {
		return "~/" + rel
	}
	return p
}
