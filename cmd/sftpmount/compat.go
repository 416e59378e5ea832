package main

import "fmt"

// compat decides, for an option that only the C sshfs (or libfuse 2)
// knows and that has no effect here, what a line written for sshfs gets:
// a one-line notice that it has none, or a refusal with the reason. Each
// is a row of the option table (optiontable.go); the sshfs table of
// docs/options.md lists the same decisions.
type compat struct {
	notice string // accepted with no effect, for this reason
	refuse string // refused, for this reason
}

// compressionNotice answers -C and Compression=yes: x/crypto/ssh has no
// zlib@openssh.com, and a mount is faster without it on any link but the
// slowest.
const compressionNotice = "SSH compression is not supported by Go's SSH library; going on without it"

// applyCompat applies one such option.
func (o *options) applyCompat(name, value string, hasValue bool, c compat) error {
	if c.refuse != "" {
		return fmt.Errorf("option %s is not supported: %s", name, c.refuse)
	}
	o.Notices = append(o.Notices, fmt.Sprintf("option %s has no effect: %s", name, c.notice))
	return nil
}
