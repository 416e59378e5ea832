// Package sshconf owns what ssh_config and the command line say about a
// host: which files are read and how (OpenSSH's own `ssh -G` when it is
// installed, kevinburke/ssh_config otherwise), the resolved Endpoint for
// the target and each ProxyJump host (address, user, keys, known_hosts,
// host key policy, keepalive and connect timeouts, ProxyCommand with its
// tokens expanded), and the algorithm lists (Ciphers, MACs,
// KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms) resolved
// over OpenSSH's defaults, and the login methods only OpenSSH's ssh can
// take that are in force, with where each is set. It opens no connection and knows nothing of
// SFTP or FUSE; a setting that cannot be used is a *ConfigError.
package sshconf
