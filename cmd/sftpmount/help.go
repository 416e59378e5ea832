package main

const helpText = `usage: sftpmount [user@]host:[dir] MOUNTPOINT [-p PORT] [-F FILE] [-o opt,opt...] [-f] [-d]

Mounts dir on host (relative to the remote home unless it starts with /;
empty means the home) at MOUNTPOINT over SFTP. host may be an alias from
~/.ssh/config. Returns once the mount is ready; unmount with
fusermount3 -u MOUNTPOINT. The command line wins over ~/.ssh/config.

General:
  -p PORT                        server port (also -o Port=PORT)
  -F FILE                        ssh config file instead of ~/.ssh/config
  -f                             stay in the foreground
  -d, -o debug                   log every operation on stderr (implies -f)
  -h, --help                     this text
  -V, --version                  print the version

SSH (any ssh_config keyword listed in the README):
  -o User=NAME, -o HostName=H    where to log in
  -o ProxyJump=[u@]h[:p][,...]   reach the server through jump hosts
  -o ConnectTimeout=SECONDS      give up connecting after this long without progress (15)
  -o ServerAliveInterval=SECS    keepalive interval, 0 = off (15)
  -o ServerAliveCountMax=N       unanswered keepalives before the link is dead (3)

Authentication (agent, key files, keyboard-interactive, password):
  -o IdentityFile=PATH           key to offer, repeatable (~/.ssh/id_ed25519, id_ecdsa, id_rsa)
  -o IdentitiesOnly=yes          offer only those keys, not every agent key
  -o CertificateFile=PATH        certificate to offer (PATH-cert.pub is found anyway)
  -o password_stdin              read the target's password from stdin (never sent to jump hosts)
  -o keep_password               keep that password so a reconnect can log in again
  -o BatchMode=yes               never ask anything (no terminal, no askpass)
  -o PasswordAuthentication=no   leave a method out (also Pubkey..., KbdInteractive...)

Host keys:
  -o UserKnownHostsFile=PATH     known_hosts file(s) (~/.ssh/known_hosts)
  -o StrictHostKeyChecking=MODE  ask (default; refuse with nobody to ask), yes, accept-new, no
  -o HostKeyAlias=NAME           look the server's key up under NAME
  -o HashKnownHosts=yes          hash the names of keys added
  -o RevokedHostKeys=PATH        refuse the keys a KRL (ssh-keygen -k) or key list names
  -o CASignatureAlgorithms=LIST  CA signatures taken on host certificates (no SHA-1 ssh-rsa)
  -o KnownHostsCommand=CMD       a command printing more known_hosts lines

Connection:
  -o timeout=SECONDS             deadline of every remote call (30)
  -o reconnect=no                after a lost connection fail (ENOTCONN), do not reconnect
  -o max_conns=N                 SFTP sessions, 1-10; large files use all (9)
  -o sftp_server=COMMAND         run COMMAND on the server instead of its sftp subsystem
  -C, -o Compression=yes         accepted, with a notice: Go's SSH has no compression

Caching (sshfs's options, sshfs's meanings):
  -o dcache_timeout=SECONDS      attributes, listings and link targets (20)
  -o dcache_stat_timeout=SECONDS one of them (also dcache_dir_timeout, dcache_link_timeout)
  -o negative_timeout=SECONDS    how long a name is answered absent (1)
  -o dir_cache=no                no cache of ours (the kernel's: entry_timeout=, attr_timeout=)
  -o kernel_cache, -o direct_io  trust the page cache; or have none

Write-back (README "Write-back"):
  -o writeback                   close returns once a new file is in a local journal
  -o writeback_dir=DIR           the journal (~/.local/state/sftpmount/journal/...)
  -o writeback_limit=SIZE        past it new files go straight to the server (1G)
  -o writeback_delay=SECONDS     wait after a file's last close before uploading (2)
  sftpmount status MOUNTPOINT    the queue, failures, the connection and its counters
  sftpmount sync MOUNTPOINT      upload everything now; non-zero naming what could not go

Symlinks:
  -o no_contain_symlinks         pass absolute and ".." targets through (default: EPERM)
  -o transform_symlinks          absolute targets inside dir become relative
  -o follow_symlinks             show what links point to, not the links

Ownership and permissions:
  -o idmap=user                  the remote user's files appear as yours
  -o idmap=file,uidfile=F,gidfile=F  map ids through name:id files (nomap=error|ignore)
  -o uid=N, -o gid=N             show every file as owned by N
  -o umask=OCTAL                 clear these bits from every mode shown

Mount:
  -o allow_other                 let other users use the mount
  -o default_permissions         let the kernel check permissions
  -o ro                          mount read-only
  -o nonempty                    mount over a directory that has files
  -o fsname=NAME                 source shown by df and /proc/mounts
  -o disable_hardlink            link(2) fails with EPERM
  -o separate_links              names the server linked show as separate files

Options written for the C sshfs are accepted where they apply; the others
get a one-line notice or a refusal saying why (see the README). Exit codes:
0 mounted, 2 usage, 3 mountpoint, 4 connect, 5 host key, 6 authentication,
7 remote directory, 8 FUSE, 9 config, 130 interrupted.
`
