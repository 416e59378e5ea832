#!/usr/bin/env bash
# Installs, on Debian 12 as root, what sftpmount's tests and demo need:
# FUSE 3, an OpenSSH server and client, sshfs (the benchmark baseline),
# rsync, git, tar, setfacl, btrfs-progs (the btrfs subvolume test), Dropbear
# (the second SSH server the round trips run against), inotify-tools (the
# change feed's watcher, on the test server) and
# rclone (the write-back baseline of the
# developer's-day benchmark). Does nothing when all are present.
set -euo pipefail
need=()
for cmd in fusermount3 sshfs rsync git tar ssh-keygen ssh-agent ssh-add setfacl rclone mkfs.btrfs inotifywait; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
[ -x /usr/sbin/sshd ] || need+=(sshd)
[ -x /usr/lib/openssh/sftp-server ] || need+=(sftp-server)
[ -x /usr/sbin/dropbear ] || need+=(dropbear)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing ${need[*]}; run as root to install them" >&2
  exit 1
fi
echo "installing packages for: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq fuse3 openssh-server openssh-sftp-server openssh-client sshfs rsync git tar acl rclone btrfs-progs dropbear-bin inotify-tools >/dev/null
