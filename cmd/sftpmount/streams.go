package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// SFTP without our SSH, as sshfs offers it: -o ssh_command=CMD runs CMD
// instead of ssh, with the arguments sshfs would give ssh, and speaks SFTP
// on its stdin and stdout (so OpenSSH's own client, with its
// ControlMaster, Kerberos, FIDO2 or smart-card logins, carries the
// mount); -o directport=PORT speaks SFTP straight over TCP to host:PORT;
// -o passive (sshfs's older name: slave) speaks it on this process's own
// stdin and stdout. ssh_config is not read for them: the command reads
// its own, and the keepalive and timeouts are the -o ones or the
// defaults.

// streamMode reports whether the mount is carried on a stream, not our SSH.
func (o *options) streamMode() bool { return o.SSHCommand != "" || o.DirectPort != 0 || o.Passive }

// checkTransport refuses, with one line, what cannot go together with
// the stream options; passive also means the foreground, and no
// reconnect (stdin is had once).
func (o *options) checkTransport() error {
	given := []string{}
	if o.SSHCommand != "" {
		given = append(given, "ssh_command")
	}
	if o.DirectPort != 0 {
		given = append(given, "directport")
	}
	if o.Passive {
		given = append(given, "passive")
	}
	if len(given) > 1 {
		return fmt.Errorf("options %s cannot be given together: each is a way to reach the server", strings.Join(given, " and "))
	}
	if len(given) == 0 {
		return nil
	}
	if o.SSHCommand != "" && len(sshCommandWords(o.SSHCommand)) == 0 {
		return fmt.Errorf("option ssh_command=%q: want a command, such as ssh", o.SSHCommand)
	}
	if o.PasswordStdin || o.KeepPassword {
		return fmt.Errorf("option %s: password_stdin and keep_password are for sftpmount's own SSH login; with %s nothing of ours logs in", given[0], given[0])
	}
	if o.DirectPort != 0 || o.Passive {
		// No SSH at all: an ssh keyword would be silently ignored.
		keys := make([]string, 0, len(o.SSH))
		for k := range o.SSH {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, kw := range keys {
			if !streamKeywords[kw] {
				return fmt.Errorf("option %s: %s is for an SSH connection, and %s makes none (of the ssh options only ConnectTimeout, ServerAliveInterval and ServerAliveCountMax apply)", given[0], sshKeywords[kw].name, given[0])
			}
		}
		if o.SSHConfigFile != "" {
			return fmt.Errorf("option %s: -F is ssh's configuration, and %s makes no SSH connection", given[0], given[0])
		}
		if o.SFTPServer != "" {
			return fmt.Errorf("option %s: sftp_server is run by sshd, and %s reaches an SFTP server already running", given[0], given[0])
		}
	}
	if o.MaxConnsGiven && o.MaxConns > 1 {
		o.Notices = append(o.Notices, fmt.Sprintf("max_conns=%d has no effect with %s: the mount has one SFTP session, over one stream (docs/transports.md)", o.MaxConns, given[0]))
	}
	if o.Passive {
		o.Foreground = true
		o.Reconnect = false
	}
	return nil
}

// streamKeywords are the ssh keywords that mean something without SSH
// (directport, passive): the connect bound and the keepalive, which
// streamEndpoint reads, and the user, which only names the mount.
var streamKeywords = map[string]bool{"connecttimeout": true, "serveraliveinterval": true, "serveralivecountmax": true, "user": true}

// sshCommandWords splits -o ssh_command as sshfs does: at spaces, runs of
// them counting as one, except a space after a backslash ("\ "), which is
// part of the word. sshfs leaves that backslash in the word it runs; it is
// dropped here, so that "/a\ b" is the path "/a b" to ssh and to a program
// alike. Any other backslash is kept as written.
func sshCommandWords(cmd string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(cmd); i++ {
		switch c := cmd[i]; {
		case c == '\\' && i+1 < len(cmd) && cmd[i+1] == ' ':
			i++
			cur.WriteByte(' ')
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// sshCommandArgv is what sshfs runs for -o ssh_command: the command's
// words, ssh's options sshfs always gives (-x -a -oClearAllForwardings=yes),
// the ssh_config keywords given with -o or -p (as -oKeyword=value), -F,
// -2, -s (for a subsystem name: not when -o sftp_server holds a '/'), --,
// [user@]host, then the subsystem (sftp) or sftp_server's command.
func (o *options) sshCommandArgv() []string {
	argv := sshCommandWords(o.SSHCommand)
	argv = append(argv, "-x", "-a", "-oClearAllForwardings=yes")
	keys := make([]string, 0, len(o.SSH))
	for k := range o.SSH {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "user" && o.User != "" {
			continue // user@host says it
		}
		for _, v := range o.SSH[k] {
			argv = append(argv, "-o"+sshKeywords[k].name+"="+v)
		}
	}
	if o.SSHConfigFile != "" {
		argv = append(argv, "-F", o.SSHConfigFile)
	}
	host := o.Host
	if o.User != "" {
		host = o.User + "@" + host
	}
	argv = append(argv, "-2")
	server := o.SFTPServer
	if server == "" {
		server = "sftp"
	}
	if !strings.Contains(server, "/") {
		argv = append(argv, "-s")
	}
	return append(argv, "--", host, server)
}

// sshExecArgv is what runs command on the server over -o ssh_command
// (the change feed's watcher: remote.RunCommand): sshfs's argv with
// command in place of the SFTP server and no -s, and BatchMode, since
// nobody is there to answer a prompt of this second ssh (a ControlMaster,
// an agent or a key without a passphrase serve it; without, the feed is
// off and the mount goes on).
func (o *options) sshExecArgv(command string) []string {
	argv := o.sshCommandArgv()
	host := argv[len(argv)-2]
	argv = argv[:len(argv)-3] // "--", host, the server
	if argv[len(argv)-1] == "-s" {
		argv = argv[:len(argv)-1]
	}
	return append(argv, "-oBatchMode=yes", "--", host, command)
}

// streamEndpoint stands for the server where no ssh_config is resolved:
// the host and user as given, and the -o connection settings or the
// defaults.
func (o *options) streamEndpoint() *sshconf.Endpoint {
	ep := &sshconf.Endpoint{
		Alias: o.Host, Host: o.Host, User: o.User, Port: o.DirectPort,
		ConnectTimeout:    defaultConnectTimeout,
		KeepaliveInterval: defaultKeepaliveInterval,
		KeepaliveCountMax: defaultKeepaliveCountMax,
	}
	if ep.User == "" {
		// The local user, as ssh would log in: it names the journal.
		if local, err := user.Current(); err == nil {
			ep.User = local.Username
		}
	}
	for kw, field := range map[string]*time.Duration{"connecttimeout": &ep.ConnectTimeout, "serveraliveinterval": &ep.KeepaliveInterval} {
		if v := o.SSH[kw]; len(v) > 0 {
			n, _ := strconv.Atoi(v[0]) // checked when parsed
			*field = time.Duration(n) * time.Second
		}
	}
	if v := o.SSH["serveralivecountmax"]; len(v) > 0 {
		ep.KeepaliveCountMax, _ = strconv.Atoi(v[0])
	}
	if v := o.SSH["port"]; len(v) > 0 && ep.Port == 0 {
		ep.Port, _ = strconv.Atoi(v[0])
	}
	return ep
}

// streamOf is the stream the mount's SFTP runs on. started is set once
// the mount is ready: from then on a command's stderr goes to the -d log
// (before, to the user, who may need its error or its prompt), and a
// command is given the terminal only in the foreground.
func (o *options) streamOf(st *startup, debug *log.Logger, started *atomic.Bool) remote.Stream {
	switch {
	case o.DirectPort != 0:
		return remote.TCPStream(net.JoinHostPort(o.Host, strconv.Itoa(o.DirectPort)))
	case o.Passive:
		return remote.OnceStream(os.Stdin, os.Stdout)
	}
	hasTTY := st.tty != nil
	say := func(line string) {
		if !started.Load() {
			st.say("ssh_command: " + line)
		} else if debug != nil {
			debug.Printf("ssh_command: %s", line)
		}
	}
	interactive := func() bool { return hasTTY && (!started.Load() || o.Foreground) }
	return remote.CommandStream(o.sshCommandArgv(), interactive, say)
}

// connectStream connects over the stream of -o ssh_command, directport
// or passive; its start-up failure is one line naming the stream.
func connectStream(o options, st *startup, debug *log.Logger) (*remote.Client, remote.Config, error) {
	target := o.streamEndpoint()
	cfg := remote.Config{
		Target:         target,
		Dir:            o.Dir,
		Timeout:        o.Timeout,
		Reconnect:      o.Reconnect,
		RemoteCommands: o.RemoteCommands,
		Debug:          debug,
		Notice:         log.New(noticeWriter(st.say), "", 0),
	}
	if o.SSHCommand != "" {
		// Commands on the server (the change feed) run in an ssh of
		// their own; over directport and passive none can run.
		cfg.Exec = func(ctx context.Context, command string) (io.ReadWriteCloser, error) {
			say := func(line string) {
				if debug != nil {
					debug.Printf("ssh_command (remote command): %s", line)
				}
			}
			return remote.CommandStream(o.sshExecArgv(command), func() bool { return false }, say)(ctx)
		}
	}
	// The first stream is bounded by ConnectTimeout unless a person may
	// be answering the command's prompts (ssh's own ConnectTimeout
	// bounds its connecting then).
	ctx := context.Background()
	if o.SSHCommand == "" || st.tty == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, target.ConnectTimeout)
		defer cancel()
	}
	var started atomic.Bool
	rc, err := remote.ConnectStream(ctx, cfg, o.streamOf(st, debug, &started))
	started.Store(true)
	var se *remote.StartupError
	if errors.As(err, &se) && se.Kind == remote.StartupConnect {
		return nil, cfg, fail(ExitConnect, fmt.Sprintf("%s: %v", o.streamName(), se.Err))
	}
	if err == nil && o.DirectPort != 0 {
		st.say(directPortWarning) // once connected: a failure's line is the only one
	}
	return rc, cfg, err
}

// streamName names the stream in a start-up failure's line.
func (o *options) streamName() string {
	switch {
	case o.DirectPort != 0:
		return "directport " + net.JoinHostPort(o.Host, strconv.Itoa(o.DirectPort))
	case o.Passive:
		return "passive (SFTP on stdin)"
	}
	return fmt.Sprintf("ssh_command %q", o.SSHCommand)
}

// transportName says what carries the mount's SFTP, for the -d log and
// sftpmount status.
func (o *options) transportName(cfg remote.Config) string {
	switch {
	case o.SSHCommand != "":
		return "ssh_command: " + strings.Join(o.sshCommandArgv(), " ")
	case o.DirectPort != 0:
		return "directport: SFTP over plain TCP to " + net.JoinHostPort(o.Host, strconv.Itoa(o.DirectPort)) + ", not encrypted"
	case o.Passive:
		return "passive: SFTP on stdin and stdout"
	}
	return fmt.Sprintf("ssh: sftpmount's own, to %s@%s", cfg.Target.User, cfg.Target.Addr())
}

// directPortWarning is said at every directport mount.
const directPortWarning = "directport: SFTP over plain TCP: nothing is encrypted or authenticated unless your network does it"
