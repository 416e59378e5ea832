package transport

import (
	"fmt"
	"io"
	"os/exec"
)

// Command is a running command whose stdin and stdout carry a stream
// (sshfs's -o ssh_command: SFTP itself, not SSH), started by
// StartCommand. It is closed as a ProxyCommand is.
type Command interface {
	io.ReadWriteCloser
	// Ended says how the command ended, if it ended by itself (its
	// exit status and last line on stderr): why a stream that failed
	// on it failed. false when it still runs or Close ended it.
	Ended() (string, bool)
}

// StartCommand runs argv (no shell, as sshfs execs ssh), its stderr going
// line by line to say. interactive keeps it in this process's group, the
// terminal's foreground one, so that a command asking on /dev/tty (ssh's
// passphrase and host key prompts) is not stopped; otherwise it gets a
// group of its own, ended whole on Close.
func StartCommand(argv []string, interactive bool, say func(string)) (Command, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	p, err := startCommandConn(exec.Command(argv[0], argv[1:]...), "command", !interactive, say)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return p, nil
}

func (p *proxyConn) Ended() (string, bool) { return p.ended() }
