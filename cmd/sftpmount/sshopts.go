package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// sshKeyword is an ssh_config keyword accepted with -o, as ssh and sshfs
// accept them; each is a row of the option table (optiontable.go), which
// sshKeywords indexes. The value is checked here so a typo is a usage
// error; it is applied when the host is resolved against ~/.ssh/config,
// over which it wins.
type sshKeyword struct {
	name  string // ssh_config spelling
	check func(string) error
	path  bool // a local path (or space-separated paths), made absolute before daemonizing
}

func anyValue(string) error { return nil }

func yesNo(v string) error { return oneOf("yes", "no")(v) }

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return nil
			}
		}
		return fmt.Errorf("want %s", strings.Join(allowed, ", "))
	}
}

func atLeast(least int) func(string) error {
	return func(v string) error {
		if n, err := strconv.Atoi(v); err != nil || n < least {
			return fmt.Errorf("want a whole number >= %d", least)
		}
		return nil
	}
}

// userValue refuses what ssh refuses (sshconf.ValidUser): %r puts the
// name into commands a shell runs.
func userValue(v string) error {
	if !sshconf.ValidUser(v) {
		return errors.New((&sshconf.UserError{User: v}).Reason())
	}
	return nil
}

func portValue(v string) error {
	if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 {
		return errors.New("want a port number from 1 to 65535")
	}
	return nil
}
