package main

const helpText = `usage: sftpmount [user@]host:[dir] MOUNTPOINT [-p PORT] [-F FILE] [-o opt,opt...] [-f] [-d]

Mounts dir on host (relative to the remote home unless it starts with /;
empty means the home) at MOUNTPOINT over SFTP. host may be an alias from
~/.ssh/config. Returns once the mount is ready; unmount with:
fusermount3 -u MOUNTPOINT

General:
  -p PORT                      server port (also -o Port=PORT)
  -F FILE                      ssh config file instead of ~/.ssh/config
  -f                           stay in the foreground
  -d, -o debug                 log every operation on stderr (implies -f)
  -h, --help                   this text
  -V, --version                print the version

SSH (ssh_config keywords; the command line wins over ~/.ssh/config):
  -o User=, HostName=, Port=   where to log in
  -o ProxyJump=[user@]host[:port][,...]
                               reach the server through jump hosts
  -o ConnectTimeout=SECONDS    deadline to connect and log in (default 15)
  -o ServerAliveInterval=SECS  keepalive interval, 0 = off (default 15)
  -o ServerAliveCountMax=N     unanswered keepalives before the link is
                               declared dead (default 3)

Authentication (in ssh's order: agent, key files, keyboard-interactive,
password; prompts go to the terminal, or to SSH_ASKPASS without one):
  -o IdentityFile=PATH         private key to offer; repeatable (default
                               ~/.ssh/id_ed25519, id_ecdsa, id_rsa)
  -o IdentitiesOnly=yes        offer only these keys, not every agent key
  -o CertificateFile=PATH      certificate to offer (PATH-cert.pub is found
                               next to each key anyway)
  -o password_stdin            read the password from stdin (one line)
  -o keep_password             keep that password in memory so that a
                               reconnect can log in again
  -o BatchMode=yes             never ask anything
  -o PubkeyAuthentication=no, KbdInteractiveAuthentication=no,
     PasswordAuthentication=no leave a method out

Host keys:
  -o UserKnownHostsFile=PATH   known_hosts file(s) (default
                               ~/.ssh/known_hosts; new keys are added there)
  -o StrictHostKeyChecking=    ask (default: asks on a terminal, refuses
                               without one), yes (refuse unknown keys),
                               accept-new (record unknown keys), no (accept
                               unknown keys with a warning). A changed key
                               is always refused.
  -o HostKeyAlias=NAME         look the key up under NAME
  -o HashKnownHosts=yes        hash the names of keys added

Connection:
  -o timeout=SECONDS           deadline of every remote call (default 30)
  -o reconnect=no              after a lost connection, fail with ENOTCONN
                               instead of reconnecting and reopening files

Caching:
  -o cache_timeout=SECONDS     how long attributes and listings are trusted
                               (default 20; sshfs's dcache_timeout also)
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
  -o nonempty                  mount over a directory that has files
  -o fsname=NAME               what df and /proc/mounts show as the source

Options written for the C sshfs are accepted where they apply; those that
only made sense there get a one-line notice or a refusal saying why (see
the README). Exit codes: 0 mounted, 2 usage, 3 mountpoint, 4 connect,
5 host key, 6 authentication, 7 remote directory, 8 mount/FUSE, 9 config,
130 interrupted.
`
