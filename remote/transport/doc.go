// Package transport owns the SSH connection to the server: the first
// hop's stream (TCP, or a ProxyCommand's stdin and stdout), each
// ProxyJump host in turn, the host key checks against known_hosts,
// authentication (agent, keys, certificates, keyboard-interactive,
// password, with prompts only while the mount starts), the algorithm
// lists offered in the handshake, the login methods only OpenSSH's ssh
// can take named when a login is done another way or has failed, and the
// ConnectTimeout that bounds it all. It hands back logged-in *ssh.Client values; what runs over them
// (SFTP, keepalive, reconnects) is package remote's.
//
// StartCommand (command.go) runs a command's argv as a stream instead:
// sshfs's ssh_command, whose SFTP package remote speaks; it is closed as a
// ProxyCommand is.
package transport
