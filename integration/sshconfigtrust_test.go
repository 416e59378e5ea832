package integration

import (
	"path/filepath"
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
