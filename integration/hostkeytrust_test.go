//go:build linux

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ownSSHD starts an sshd of the test's own, so its host key can change
// without touching the shared one; prepare is as for startSSHDWith.
func ownSSHD(t *testing.T, prepare func(*sshServer) (string, error)) *sshServer {
	t.Helper()
	needServer(t)
	s, err := startSSHDWith(filepath.Join(workDir, fmt.Sprintf("sshd-%d", dirSeq.Add(1))), prepare)
	if err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// newHostKey gives s a new host key and restarts it on the same port,
// as a reinstalled server, or one taken over, would come back.
func (s *sshServer) newHostKey(t *testing.T) {
	t.Helper()
	os.Remove(s.hostKey())
	os.Remove(s.hostKey() + ".pub")
	sh(t, s.dir, "ssh-keygen -q -t ed25519 -N '' -f "+s.hostKey())
	if err := s.restart(); err != nil {
		t.Fatal(err)
	}
}

// mountOwnSSHD mounts a fresh directory of s in the foreground (its
// later lines on stderr, which the daemon sends to syslog) with
// UserKnownHostsFile=known and opts.
func mountOwnSSHD(t *testing.T, s *sshServer, known, opts string) (*mounted, *lockedBuffer) {
	t.Helper()
	m := &mounted{remote: newServedDir(t, "root"), mnt: newMountpoint(t)}
	o := "IdentityFile=" + s.userKey + ",UserKnownHostsFile=" + known + ",timeout=4"
	if opts != "" {
		o += "," + opts
	}
	cmd := exec.Command(binary, remoteSpec(m.remote), m.mnt, "-f", "-p", strconv.Itoa(s.port), "-o", o)
	cmd.Env = append(baseEnv(), home(t)...)
	stderr := serveInForeground(t, cmd, m.mnt)
	writeFile(t, filepath.Join(m.mnt, "before"), "first connection", 0644)
	if readFile(t, filepath.Join(m.remote, "before")) != "first connection" {
		t.Fatal("a write through the mount did not reach the server")
	}
	return m, stderr
}

// refusedOnReconnect checks that calls after the server came back fail as
// when it is gone, nothing reaches it, and stderr says why once.
func refusedOnReconnect(t *testing.T, m *mounted, stderr *lockedBuffer, why string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		if err := os.WriteFile(filepath.Join(m.mnt, fmt.Sprintf("after-%d", i)), []byte("x"), 0644); err == nil {
			t.Errorf("write %d through the mount succeeded after the server came back with a key not to trust", i)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(m.remote, "after-*")); len(names) > 0 {
		t.Errorf("files reached the server: %v", names)
	}
	var said []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, why) && strings.Contains(l, "refusing to reconnect") {
			said = append(said, l)
		}
	}
	if len(said) != 1 {
		t.Errorf("stderr refuses for %q %d times, want once: %q", why, len(said), stderr.String())
	}
}

// With StrictHostKeyChecking=no the first key is taken unverified, but a
// reconnect within the mount takes only that key: the server coming back
// with another one (sshd reinstalled, or someone in the middle) is
// refused and the mount's calls fail.
func TestReconnectRefusesAHostKeyChangedMidMountEvenWithStrictNo(t *testing.T) {
	s := ownSSHD(t, nil)
	known := filepath.Join(t.TempDir(), "known_hosts")
	m, stderr := mountOwnSSHD(t, s, known, "StrictHostKeyChecking=no")
	s.newHostKey(t)
	refusedOnReconnect(t, m, stderr, hostFingerprint(t, s))
	if _, err := os.Stat(known); err == nil {
		t.Error("StrictHostKeyChecking=no recorded a key")
	}
}

// known_hosts is read again at each reconnect: a key marked @revoked
// after the mount was made is refused when the server comes back with it.
func TestReconnectRefusesAHostKeyRevokedSinceTheMount(t *testing.T) {
	s := ownSSHD(t, nil)
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, readFile(t, s.knownHosts), 0644)
	m, stderr := mountOwnSSHD(t, s, known, "")
	appendTo(t, known, "@revoked [127.0.0.1]:"+strconv.Itoa(s.port)+" "+s.hostKeyPub+"\n")
	if err := s.restart(); err != nil {
		t.Fatal(err)
	}
	refusedOnReconnect(t, m, stderr, "revoked")
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// A host certificate signed by an RSA CA with SHA-1 (`ssh-rsa`), which
// OpenSSH 8.2 and later refuse, is refused unless CASignatureAlgorithms
// names ssh-rsa.
func TestHostCertificateSignedWithSHA1IsRefusedUnlessAllowed(t *testing.T) {
	var ca string
	s := ownSSHD(t, func(s *sshServer) (string, error) {
		ca = filepath.Join(s.dir, "rsa_ca")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", ca).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		if out, err := exec.Command("ssh-keygen", "-q", "-s", ca, "-t", "ssh-rsa", "-I", "sha1-host", "-h", "-n", "127.0.0.1", s.hostKey()+".pub").CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return "HostCertificate " + s.hostKey() + "-cert.pub\n", nil
	})
	if out := sh(t, "/", "ssh-keygen -Lf "+s.hostKey()+"-cert.pub"); !strings.Contains(out, "RSA-SHA1") && !strings.Contains(out, "ssh-rsa") {
		t.Fatalf("the certificate is not signed with SHA-1: %s", out)
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, "@cert-authority [127.0.0.1]:"+strconv.Itoa(s.port)+" "+readFile(t, ca+".pub"), 0644)
	args := func(opts string) []string {
		o := "IdentityFile=" + s.userKey + ",UserKnownHostsFile=" + known + ",StrictHostKeyChecking=yes" + opts
		return []string{remoteSpec(newServedDir(t, "root")), newMountpoint(t), "-p", strconv.Itoa(s.port), "-o", o}
	}
	if line := refused(t, 5, home(t), args("")...); !strings.Contains(line, "SHA-1") {
		t.Errorf("message: %s", line)
	}
	a := args(",CASignatureAlgorithms=ssh-ed25519\\,rsa-sha2-512\\,ssh-rsa")
	mountedBy(t, runBinary(t, home(t), a...), a[1], strings.TrimPrefix(a[0], "root@127.0.0.1:"), "root")
}

// A key listed as @cert-authority vouches for certificates only: the
// server presenting that very key as its plain host key is unknown.
func TestCertAuthorityKeyIsNotAcceptedAsAPlainHostKey(t *testing.T) {
	needServer(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, "@cert-authority [127.0.0.1]:"+strconv.Itoa(server.port)+" "+server.hostKeyPub+"\n", 0644)
	line := refused(t, 5, home(t), append([]string{remoteSpec(newServedDir(t, "root")), newMountpoint(t)}, keyArgs(known, "StrictHostKeyChecking=yes")...)...)
	if !strings.Contains(line, "unknown") {
		t.Errorf("message: %s", line)
	}
}

// RevokedHostKeys is read at each reconnect too: a KRL updated with
// ssh-keygen -k -u to revoke the server's key after the mount was made
// refuses the key when the server comes back.
func TestReconnectRefusesAHostKeyAddedToTheKRLSinceTheMount(t *testing.T) {
	s := ownSSHD(t, nil)
	dir := t.TempDir()
	krl := filepath.Join(dir, "revoked.krl")
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f other && ssh-keygen -q -k -f "+krl+" other.pub")
	m, stderr := mountOwnSSHD(t, s, s.knownHosts, "RevokedHostKeys="+krl)
	sh(t, dir, "ssh-keygen -q -k -u -f "+krl+" "+s.hostKey()+".pub")
	if err := s.restart(); err != nil {
		t.Fatal(err)
	}
	refusedOnReconnect(t, m, stderr, "RevokedHostKeys")
}
