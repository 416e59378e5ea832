package main

const helpText = `usage: sftpmount [user@]host:[dir] MOUNTPOINT [-p PORT] [-o opt,opt...] [-f] [-d]

Mounts dir on host (relative to the remote home unless it starts with /;
empty means the home) at MOUNTPOINT over SFTP. Returns once the mount is
ready; unmount with: fusermount3 -u MOUNTPOINT

General:
  -p PORT                      server port (also -o port=PORT; default 22)
  -f                           stay in the foreground
  -d, -o debug                 log every operation on stderr (implies -f)
  -h, --help                   this text
  -V, --version                print the version

Authentication and host keys (tried in ssh's order: agent, then key files):
  -o IdentityFile=PATH         private key to offer; repeatable
                               (default ~/.ssh/id_ed25519, id_ecdsa, id_rsa)
  -o UserKnownHostsFile=PATH   known_hosts file(s) to verify the server's key
                               (default ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts)

Connection:
  -o timeout=SECONDS           deadline of every remote call (default 30)
  -o ConnectTimeout=SECONDS    deadline to connect and log in (default 15)
  -o ServerAliveInterval=SECS  keepalive interval, 0 = off (default 15)
  -o ServerAliveCountMax=N     unanswered keepalives before the link is
                               declared dead (default 3)
  -o reconnect=no              after a lost connection, fail with ENOTCONN
                               instead of reconnecting and reopening files

Caching:
  -o cache_timeout=SECONDS     how long attributes are trusted (default 20)
  -o cache=no                  trust nothing; ask the server every time

Symlinks:
  -o no_contain_symlinks       pass targets that are absolute or contain ".."
                               through unchanged (default: refuse them, EPERM)
  -o transform_symlinks        absolute targets inside dir become relative
  -o follow_symlinks           show what links point to, not the links

Ownership and permissions:
  -o idmap=user                the remote user's files appear as yours
  -o uid=N, -o gid=N           show every file as owned by N
  -o umask=OCTAL               clear these bits from every mode shown

Mount:
  -o allow_other               let other users use the mount
  -o default_permissions       let the kernel check permissions
  -o ro                        mount read-only
`
