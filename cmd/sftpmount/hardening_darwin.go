package main

import "golang.org/x/sys/unix"

// keepSecretsIn keeps debuggers of the same uid out of the process's
// memory (a password, a decrypted key): PT_DENY_ATTACH, as ssh-agent does
// on macOS. Unlike Linux's PR_SET_DUMPABLE it does not keep the memory
// out of a core dump; macOS writes none unless the user enabled them.
// Built, not tested: sftpmount's tests run on Linux.
func keepSecretsIn() {
	unix.PtraceDenyAttach()
}
