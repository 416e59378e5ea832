package integration

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RevokedHostKeys in ssh_config, a KRL made with ssh-keygen -k: a key it
// revokes is refused (exit 5) as ssh refuses it, a key it does not is
// mounted, and a file that is no KRL nor key list refuses every key.
func TestRevokedHostKeysKRLInSSHConfigRefusesTheRevokedKey(t *testing.T) {
	needServer(t)
	env, home := homeWithConfig(t, mainServerBlock("files")+"    RevokedHostKeys ~/revoked.krl\n")
	krl := filepath.Join(home, "revoked.krl")
	sh(t, home, "ssh-keygen -q -t ed25519 -N '' -f other && ssh-keygen -q -k -f "+krl+" "+server.hostKey()+".pub")
	if line := refused(t, 5, env, "files:/tmp", newMountpoint(t)); !strings.Contains(line, "revoked") {
		t.Errorf("message: %s", line)
	}
	sh(t, home, "ssh-keygen -q -k -f "+krl+" other.pub")
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "files:"+served, mnt), mnt, served, "root")
	writeFile(t, krl, "SSHKRL\n\x00garbage", 0644)
	if line := refused(t, 9, env, "files:/tmp", newMountpoint(t)); !strings.Contains(line, "RevokedHostKeys") {
		t.Errorf("message: %s", line)
	}
}

// KnownHostsCommand in ssh_config is run, without a shell and with the
// key's tokens, and the known_hosts lines it prints vouch for the server
// as the files' would; a command that fails refuses the key.
func TestKnownHostsCommandInSSHConfigVouchesForTheServer(t *testing.T) {
	needServer(t)
	env, home := homeWithConfig(t, strings.Replace(mainServerBlock("files"), "UserKnownHostsFile KNOWN", "UserKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    KnownHostsCommand ~/print-keys %H %t %K", 1))
	args := filepath.Join(home, "args")
	// ssh_config's ~ is for paths: the command is named in full.
	config := filepath.Join(home, ".ssh", "config")
	writeFile(t, config, strings.Replace(readFile(t, config), "~/print-keys", filepath.Join(home, "print-keys"), 1), 0600)
	writeFile(t, filepath.Join(home, "print-keys"), "#!/bin/sh\necho \"$@\" >> "+args+"\ncat "+server.knownHosts+"\n", 0755)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "files:"+served, mnt), mnt, served, "root")
	key := strings.Fields(server.hostKeyPub)
	if got := readFile(t, args); !strings.Contains(got, "[127.0.0.1]:"+strconv.Itoa(server.port)+" "+key[0]+" "+key[1]) {
		t.Errorf("the command was given %q", got)
	}
	writeFile(t, filepath.Join(home, "print-keys"), "#!/bin/sh\nexit 1\n", 0755)
	if line := refused(t, 9, env, "files:/tmp", newMountpoint(t)); !strings.Contains(line, "KnownHostsCommand") {
		t.Errorf("message: %s", line)
	}
}
