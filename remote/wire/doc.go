// Package wire speaks the SFTP version 3 requests that pkg/sftp v1.13
// cannot send: OpenSSH's extensions (lsetstat@openssh.com,
// limits@openssh.com, copy-data), pipelined directory reads with each
// name's link count, MKDIR and LSTAT in one round trip, and, on a Conn
// of its own, which names a Linux server holds as one file (Identifier).
// It owns the framing (length, type, request id), the matching of replies
// to requests, and the checks a hostile server's replies must pass: a
// packet shorter than its header, longer than the negotiated maximum, of a
// type the request cannot get (one table, answers, checked in one place,
// readLoop), or for an id nobody asked or already answered, ends the
// connection with a ProtocolError rather than being trusted. The SFTP
// status codes are named here, once (status.go).
//
// A Conn runs on an SFTP subsystem channel of its own; pkg/sftp keeps
// every other request (remote's File, ReadDir, Stat...). Deadlines are the
// caller's ctx: a call whose ctx ends returns at once, its reply, if it
// ever comes, is checked and dropped. Reconnecting is the caller's too:
// a Conn whose stream broke stays broken (Err).
package wire
