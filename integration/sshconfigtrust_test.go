//go:build linux

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

// The trust and login settings sftpmount does not do are each named once
// (ControlMaster and ControlPath in one line) when the user's files set them, with ssh installed and without it;
// with no user file at all, nothing is said, whatever the system's
// file holds (Debian's says GSSAPIAuthentication yes).
func TestIgnoredTrustSettingsAreNamedOnceAndSystemDefaultsNotAtAll(t *testing.T) {
	needServer(t)
	keywords := []string{"VerifyHostKeyDNS yes", "CheckHostIP yes", "UpdateHostKeys ask", "GSSAPIAuthentication yes",
		"ControlMaster auto", "ControlPath /tmp/cm-%C", "PKCS11Provider /usr/lib/p11.so", "SecurityKeyProvider /usr/lib/sk.so"}
	for _, withSSH := range []bool{true, false} {
		env, _ := homeWithConfig(t, mainServerBlock("files")+"    "+strings.Join(keywords, "\n    ")+"\n")
		plain, _ := homeWithConfig(t, mainServerBlock("files"))
		if !withSSH {
			env, plain = append(env, pathWithoutSSH(t)), append(plain, pathWithoutSSH(t))
		}
		served, mnt := newServedDir(t, "root"), newMountpoint(t)
		r := runBinary(t, env, "files:"+served, mnt)
		mountedBy(t, r, mnt, served, "root")
		for _, k := range keywords {
			if n := strings.Count(r.stderr, strings.Fields(k)[0]+" "); n != 1 {
				t.Errorf("ssh installed %v: %s named %d times: %q", withSSH, strings.Fields(k)[0], n, r.stderr)
			}
		}
		// ControlMaster and ControlPath share a line; the login methods
		// only ssh can take say how to have ssh do them.
		if n := strings.Count(r.stderr, "\n"); n != len(keywords)-1 {
			t.Errorf("ssh installed %v: %d lines, want %d: %q", withSSH, n, len(keywords)-1, r.stderr)
		}
		if n := strings.Count(r.stderr, "-o ssh_command=ssh"); n != 4 {
			t.Errorf("ssh installed %v: -o ssh_command=ssh said %d times, want once for each of the 4 login settings: %q", withSSH, n, r.stderr)
		}
		served, mnt = newServedDir(t, "root"), newMountpoint(t)
		r = runBinary(t, plain, "files:"+served, mnt)
		mountedBy(t, r, mnt, served, "root")
		if r.stderr != "" {
			t.Errorf("ssh installed %v: with no such setting in the user's files: %q", withSSH, r.stderr)
		}
	}
}
