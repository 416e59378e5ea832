package remote

import (
	"io"
	"log"
	"time"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// Config says where to connect and how. Target comes from Resolve; the
// rest are the mount's own settings.
type Config struct {
	Target *sshconf.Endpoint
	Dir    string // remote directory to serve; relative paths are under the login directory
	// SFTPServer, when set, is a command run on the server instead of
	// its sftp subsystem (sshfs's -o sftp_server=).
	SFTPServer string

	Timeout time.Duration // every remote call made for a kernel request

	// Reconnect re-dials after the connection is lost, and reopens open
	// files on the new one. Off, a lost connection ends the mount's use.
	Reconnect bool

	// RemoteCommands lets the client run commands on the server beside
	// SFTP, over exec channels of its SSH connection (or the
	// ssh_command transport): the change feed (feed.go) and bulk
	// listings (tree.go). Off (-o remote_commands=no), it runs none.
	RemoteCommands bool
	// Exec runs a command on the server where the session has no SSH
	// connection of its own to open an exec channel on (ssh_command);
	// nil there means commands cannot be run (exec.go).
	Exec Exec

	// Sessions is how many SFTP sessions to run over the one SSH
	// connection (sshfs's max_conns). The first carries every request;
	// the others carry the bulk of large files' reads and writes, so
	// that one file is not held to one SSH channel window (2 MiB per
	// round trip) and a large transfer does not queue ahead of an ls.
	// 0 means 1.
	Sessions int

	// Prompter asks for passphrases, passwords and new host keys during
	// the first connection; nil when nobody can be asked.
	Prompter Prompter
	// Password was given at mount time (-o password_stdin). Connect
	// keeps a copy only if KeepPassword lets reconnects use it; the
	// caller wipes this one once Connect returns.
	Password     []byte
	KeepPassword bool

	// Debug, when set, receives one line per connection event. Never
	// secrets: only hosts, paths, key fingerprints and outcomes.
	Debug *log.Logger
	// Notice, when set, receives the lines a user must see even without
	// -d: host keys added or accepted unverified.
	Notice *log.Logger
}

func (c *Config) debugf(format string, args ...any) {
	if c.Debug != nil {
		c.Debug.Printf(format, args...)
	}
}

func (c *Config) notice(msg string) {
	if c.Notice != nil {
		c.Notice.Print(msg)
		return
	}
	c.debugf("%s", msg)
}

// discardLogger is used where a *log.Logger is required but nobody listens.
var discardLogger = log.New(io.Discard, "", 0)
