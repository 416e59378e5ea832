package main

import (
	"log"
	"os"
	"os/user"

	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// connectConfig resolves the host the way ssh would (command line, then
// ssh_config, then defaults) and adds the mount's own settings.
func connectConfig(o options, st *startup, debug *log.Logger) (remote.Config, error) {
	local, err := user.Current()
	if err != nil {
		return remote.Config{}, fail(ExitConfig, "cannot tell the local user name; give one as user@host: "+err.Error())
	}
	// $HOME, as the user's shell has it; mount(8) and systemd may run us
	// without one, and then the account's home is what ssh would use.
	home := os.Getenv("HOME")
	if home == "" {
		home = local.HomeDir
	}
	files, err := sshconf.LoadSSHConfig(o.SSHConfigFile, home)
	if err != nil {
		return remote.Config{}, err
	}
	target, err := files.Resolve(o.Host, o.SSH, sshconf.Defaults{
		User:                  local.Username,
		Home:                  home,
		ConnectTimeout:        defaultConnectTimeout,
		KeepaliveInterval:     defaultKeepaliveInterval,
		KeepaliveCountMax:     defaultKeepaliveCountMax,
		StrictHostKeyChecking: sshconf.HostKeyAsk,
	})
	if err != nil {
		return remote.Config{}, err
	}
	return remote.Config{
		Target:         target,
		Dir:            o.Dir,
		SFTPServer:     o.SFTPServer,
		Timeout:        o.Timeout,
		Reconnect:      o.Reconnect,
		RemoteCommands: o.RemoteCommands,
		Sessions:       o.MaxConns,
		Prompter:       newPrompter(st.tty),
		Password:       st.password,
		KeepPassword:   o.KeepPassword,
		Debug:          debug,
		Notice:         log.New(noticeWriter(st.say), "", 0),
	}, nil
}

// noticeWriter turns log lines into calls of notice.
type noticeWriter func(string)

func (w noticeWriter) Write(b []byte) (int, error) {
	msg := string(b)
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	w(msg)
	return len(b), nil
}
