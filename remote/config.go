// Package remote owns the SSH side of sftpmount: host-key checking,
// authentication, keepalive, per-call deadlines and the SFTP session. It
// knows nothing of FUSE; callers get plain Go errors wrapped once with the
// operation and path.
package remote

import (
	"io"
	"log"
	"time"
)

// Config says where to connect and how. Defaults live in cmd/sftpmount's
// option table; a zero field here means "not set".
type Config struct {
	Host string // as given by the user; also the known_hosts lookup name
	Port int
	User string
	Dir  string // remote directory to serve; relative paths are under the login directory

	// IdentityFiles are tried in order after the agent. Missing files named
	// explicitly are an error; missing default files are skipped.
	IdentityFiles        []string
	DefaultIdentityFiles []string
	UseAgent             bool

	KnownHostsFiles []string

	ConnectTimeout time.Duration // dial + handshake + auth
	Timeout        time.Duration // every remote call made for a kernel request

	// Reconnect re-dials after the connection is lost, and reopens open
	// files on the new one. Off, a lost connection ends the mount's use.
	Reconnect bool

	KeepaliveInterval time.Duration // 0 disables keepalive
	KeepaliveCountMax int

	// Debug, when set, receives one line per connection event. Never
	// secrets: only hosts, paths, key fingerprints and outcomes.
	Debug *log.Logger
}

func (c *Config) debugf(format string, args ...any) {
	if c.Debug != nil {
		c.Debug.Printf(format, args...)
	}
}

// discardLogger is used where a *log.Logger is required but nobody listens.
var discardLogger = log.New(io.Discard, "", 0)
