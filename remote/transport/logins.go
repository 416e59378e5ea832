package transport

import (
	"fmt"
	"strings"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// The login methods in force for a host that Go's SSH cannot take
// (sshconf.LoginSetting: Kerberos, a ControlMaster, a PKCS#11 or
// security-key provider) are never dropped in silence. A login done
// another way names those the user set, once; a login that failed names
// every one in force, the system's defaults too, in its one line, since
// that may be why it failed. Debian's /etc/ssh/ssh_config says
// GSSAPIAuthentication yes for every host: a mount that logs in by key
// does not say so.

// loginNotices are the lines said once the first login is done.
func loginNotices(ep *sshconf.Endpoint) []string {
	var out []string
	for _, l := range ep.Logins {
		if l.UserSet {
			out = append(out, fmt.Sprintf("ssh config sets %s for %s: %s, which Go's SSH cannot; logged in another way (-o ssh_command=ssh logs in as ssh does)", l, ep.Alias, l.Means))
		}
	}
	return out
}

// loginAdvice is what a failed login's line adds: "" when no such
// setting is in force.
func loginAdvice(logins []sshconf.LoginSetting) string {
	if len(logins) == 0 {
		return ""
	}
	var named []string
	for _, l := range logins {
		from := ""
		if !l.UserSet {
			from = " (" + systemFile + ")"
		}
		named = append(named, l.String()+from+": "+l.Means)
	}
	return "; ssh config sets " + strings.Join(named, "; ") + ", which Go's SSH cannot: -o ssh_command=ssh will do it"
}

// systemFile is where the settings no user set come from.
const systemFile = "/etc/ssh/ssh_config"
