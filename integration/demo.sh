#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine (as root) and mounts a
# demo: a throwaway OpenSSH server on a loopback port serves a sample
# directory, and sftpmount mounts it. `demo.sh stop` tears it all down.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
demo=/tmp/sftpmount-demo

stop() {
  fusermount3 -u "$demo/mnt" 2>/dev/null || fusermount3 -u -z "$demo/mnt" 2>/dev/null || true
  [ -f "$demo/sshd.pid" ] && kill "$(cat "$demo/sshd.pid")" 2>/dev/null || true
  rm -rf "$demo"
}
if [ "${1:-}" = stop ]; then stop; echo "demo stopped and removed"; exit 0; fi

./integration/install-deps.sh
stop
mkdir -p "$demo/mnt" "$demo/served/docs" /run/sshd
go build -buildvcs=auto -o "$demo/sftpmount" ./cmd/sftpmount

ssh-keygen -q -t ed25519 -N '' -C demo-host -f "$demo/host_key"
ssh-keygen -q -t ed25519 -N '' -C demo-user -f "$demo/user_key"
cp "$demo/user_key.pub" "$demo/authorized_keys"
port=
for p in $(seq 22022 22122); do  # first loopback port nobody answers on
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "no free port in 22022-22122" >&2; exit 1; }
cat > "$demo/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $demo/host_key
AuthorizedKeysFile $demo/authorized_keys
PidFile $demo/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -f "$demo/sshd_config" -E "$demo/sshd.log"
echo "[127.0.0.1]:$port $(cat "$demo/host_key.pub")" > "$demo/known_hosts"

echo "Hello from the remote side." > "$demo/served/README.txt"
printf 'line %s\n' $(seq 1 100) > "$demo/served/docs/lines.txt"
for _ in $(seq 1 50); do [ -f "$demo/sshd.pid" ] && break; sleep 0.1; done

"$demo/sftpmount" "root@127.0.0.1:$demo/served" "$demo/mnt" -p "$port" \
  -o "IdentityFile=$demo/user_key,UserKnownHostsFile=$demo/known_hosts"

cat <<MSG
Mounted root@127.0.0.1:$demo/served (a throwaway sshd on port $port) at:

    $demo/mnt

Try:      ls -la $demo/mnt && cat $demo/mnt/README.txt
Unmount:  fusermount3 -u $demo/mnt
Stop all: $0 stop
MSG
