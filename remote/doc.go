// Package remote owns the SSH and SFTP side of sftpmount, given an
// Endpoint that package sshconf resolved: the transport (TCP or a
// ProxyCommand, jump hosts, host-key checking, authentication, algorithm
// negotiation, keepalive), or without SSH a byte stream that carries SFTP
// itself (sshfs's ssh_command, directport and passive: stream.go,
// streams.go), the SFTP sessions, and the client the mount
// uses, with per-call deadlines, reconnects and reopened files. It knows
// nothing of FUSE; callers get plain Go errors wrapped once with the
// operation and path, and a server's SFTP status as a code (StatusCode,
// the Status* names) that callers read without pkg/sftp.
package remote
