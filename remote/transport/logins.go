package transport

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// The login methods in force for a host that Go's SSH cannot take
// (sshconf.LoginSetting: Kerberos, a master connection, a PKCS#11 or
// security-key provider) are never dropped in silence. A login done
// another way names those the user set, once, one line each; a login
// that failed names every one in force, the system file's too, in its
// one line, since that may be why it failed. Debian's
// /etc/ssh/ssh_config says GSSAPIAuthentication yes for every host: a
// mount that logs in by key does not say so. Each line names where the
// setting is set and -o ssh_command=ssh, which has OpenSSH's own client
// log in.

// loginNotices are the lines said once the first login is done.
func loginNotices(ep *sshconf.Endpoint) []string {
	var out []string
	for _, l := range ep.Logins {
		if !l.UserSet {
			continue
		}
		done := "logged in another way (-o ssh_command=ssh would log in with OpenSSH's own client)"
		if l.ControlPath != "" && masterListening(l.ControlPath) {
			done = "logged in with a connection of its own, though a master connection is open at " + l.ControlPath + " (-o ssh_command=ssh would log in through it)"
		} else if strings.HasPrefix(l.Setting, "Control") {
			done = "logged in with a connection of its own (-o ssh_command=ssh would share ssh's)"
		}
		out = append(out, fmt.Sprintf("ssh config sets %s for %s (%s): %s, which sftpmount's SSH cannot; %s", l.Setting, ep.Alias, l.From, l.Means, done))
	}
	return out
}

// masterListening reports whether something listens on the socket at
// path: a master connection ssh would log in through. The connection
// is closed at once; a master takes that as a client gone.
func masterListening(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// loginAdvice is what a failed login's line adds: "" when no such
// setting is in force.
func loginAdvice(logins []sshconf.LoginSetting) string {
	if len(logins) == 0 {
		return ""
	}
	named := make([]string, len(logins))
	for i, l := range logins {
		named[i] = l.Setting + " (" + l.From + ")"
	}
	list := named[0]
	if n := len(named); n > 1 {
		list = strings.Join(named[:n-1], ", ") + " and " + named[n-1]
	}
	return "; ssh config sets " + list + ": sftpmount's SSH cannot log in that way; -o ssh_command=ssh logs in with OpenSSH's own client"
}
