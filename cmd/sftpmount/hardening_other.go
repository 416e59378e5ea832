//go:build !linux && !darwin && !freebsd

package main

// keepSecretsIn does nothing here: this system's way of keeping other
// processes of the same uid out of our memory is not known to sftpmount
// (Linux: PR_SET_DUMPABLE; macOS: PT_DENY_ATTACH; FreeBSD: procctl).
func keepSecretsIn() {}
