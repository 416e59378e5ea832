// Package cache keeps what sftpmount already learned from the server, so
// that a kernel request can be answered without a round trip, and the
// buffers that move a file's bytes. It knows nothing of FUSE or SSH: keys
// are slash-separated paths relative to the mount's root ("" is the
// root), values are whatever the caller stores.
//
// What it holds: the TTL cache of attributes, listings and link targets
// (ttl.go) and the rule that keeps an answer asked before a change of
// ours out of it (changes.go); read-ahead and write-behind for one open
// file (readahead.go, writebehind.go) and the memory budget they share
// across a mount (budget.go).
//
// And the checks that a directory or file is this user's alone
// (private.go), which the write-back journal and the control socket's
// directory pass before they are trusted.
package cache
