package sshconf

import (
	"fmt"
	"strings"
	"unicode"
)

// userMetachars are refused in a remote user name, as OpenSSH (9.6,
// CVE-2023-51385) refuses them: %r puts the name into ProxyCommand and
// Match exec, which a shell runs.
const userMetachars = "'`\";&<>|(){}"

// ValidUser reports whether u is a user name OpenSSH's ssh_valid_ruser
// accepts: no leading '-', no control character, none of userMetachars,
// no '-' after a space and no '\' at the end. OpenSSH checks only names
// from the command line or with tokens; sftpmount checks every name, its
// ssh_config files' too, since it expands %r itself.
func ValidUser(u string) bool {
	if strings.HasPrefix(u, "-") {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c < 0x20 || c == 0x7f, strings.IndexByte(userMetachars, c) >= 0:
			return false
		case unicode.IsSpace(rune(c)) && i+1 < len(u) && u[i+1] == '-':
			return false
		case c == '\\' && i+1 == len(u):
			return false
		}
	}
	return true
}

// UserError is a user name refused by ValidUser. The command exits as for
// a bad argument, whichever place the name came from.
type UserError struct {
	User string
	From string // where it was given: "the command line", "ssh config for host h"
}

func (e *UserError) Error() string {
	return fmt.Sprintf("invalid user name %q (%s): %s", e.User, e.From, e.Reason())
}

// Reason says what a user name may not hold.
func (e *UserError) Reason() string {
	return "a user name does not start with '-', end with '\\', or hold control characters or any of " + userMetachars
}

// checkUser returns a *UserError for an invalid name.
func checkUser(u, from string) error {
	if ValidUser(u) {
		return nil
	}
	return &UserError{User: u, From: from}
}
