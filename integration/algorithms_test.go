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

// A server whose host key signs only with ssh-rsa (SHA-1), as old
// appliances do: refused by default, as OpenSSH 8.8 and later refuse it,
// with a line naming what the server offers and the option that allows
// it; mounted once the user asks for it by name.
func TestAnSHA1OnlyHostKeyIsRefusedUntilAskedForByName(t *testing.T) {
	needServer(t)
	dir := filepath.Join(workDir, "sshd-legacy")
	var rsaPub string
	legacy, err := startSSHDWith(dir, func(s *sshServer) (string, error) {
		key := filepath.Join(s.dir, "host_rsa")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key).CombinedOutput(); err != nil {
			return "", fmt.Errorf("ssh-keygen: %v: %s", err, out)
		}
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			return "", err
		}
		rsaPub = strings.TrimSpace(string(pub))
		return "HostKey " + key + "\nHostKeyAlgorithms ssh-rsa\n", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.stop()
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, fmt.Sprintf("[127.0.0.1]:%d %s\n", legacy.port, rsaPub), 0644)
	served := newServedDir(t, "root")
	args := func(extra ...string) []string {
		return append([]string{remoteSpec(served), newMountpoint(t), "-p", strconv.Itoa(legacy.port),
			"-o", "IdentityFile=" + legacy.userKey + ",UserKnownHostsFile=" + known}, extra...)
	}

	r := runBinary(t, []string{"HOME=" + isolatedHome(t)}, args()...)
	if r.code != 4 {
		t.Fatalf("an ssh-rsa-only server: exit %d, want 4: %s", r.code, r.stderr)
	}
	for _, w := range []string{"no matching host key type found", "Their offer: ssh-rsa", "-o HostKeyAlgorithms=+ssh-rsa"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q lacks %q", r.stderr, w)
		}
	}
	if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
		t.Errorf("not one line: %q", r.stderr)
	}

	a := args("-o", "HostKeyAlgorithms=+ssh-rsa")
	r = runBinary(t, []string{"HOME=" + isolatedHome(t)}, a...)
	if r.code != 0 {
		t.Fatalf("with HostKeyAlgorithms=+ssh-rsa: exit %d: %s", r.code, r.stderr)
	}
	mnt := a[1]
	cleanupMount(t, mnt)
	writeFile(t, filepath.Join(mnt, "f"), "signed with SHA-1", 0644)
	if got := readFile(t, filepath.Join(served, "f")); got != "signed with SHA-1" {
		t.Fatalf("server has %q", got)
	}
}
