//go:build linux

package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// passwordUser is a throwaway local account with a password, made for the
// password and keyboard-interactive tests; its password is new each run.
const passwordUser = "sftpmount-pw"

// authSrv is a second sshd for what the main one refuses on purpose:
// passwords and keyboard-interactive through PAM, a host certificate, and
// user certificates signed by a throwaway CA. It also serves as the jump
// host in the ProxyJump tests.
type authSrv struct {
	*sshServer
	password string // passwordUser's password, random per run
	hostCA   string // public key of the CA that signed the host certificate
	userCA   string // private key of the CA sshd trusts for user certificates
}

var (
	authOnce   sync.Once
	authServer *authSrv
	authErr    error
)

// needAuthServer starts the second sshd on first use; TestMain stops it.
func needAuthServer(t *testing.T) *authSrv {
	t.Helper()
	needServer(t)
	authOnce.Do(func() { authServer, authErr = startAuthServer() })
	if authErr != nil {
		t.Fatalf("starting the password/certificate sshd: %v", authErr)
	}
	return authServer
}

func startAuthServer() (*authSrv, error) {
	a := &authSrv{password: randomSecret()}
	if err := ensurePasswordUser(a.password); err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "sshd-auth")
	srv, err := startSSHDWith(dir, func(s *sshServer) (string, error) {
		hostCA := filepath.Join(s.dir, "host_ca")
		userCA := filepath.Join(s.dir, "user_ca")
		for _, k := range []string{hostCA, userCA} {
			if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
				return "", fmt.Errorf("ssh-keygen: %v: %s", err, out)
			}
		}
		if out, err := exec.Command("ssh-keygen", "-q", "-s", hostCA, "-I", "test-host", "-h", "-n", "127.0.0.1", s.hostKey()+".pub").CombinedOutput(); err != nil {
			return "", fmt.Errorf("signing host key: %v: %s", err, out)
		}
		pub, err := os.ReadFile(hostCA + ".pub")
		if err != nil {
			return "", err
		}
		a.hostCA, a.userCA = strings.TrimSpace(string(pub)), userCA
		// DEBUG1 makes sshd log the direct-tcpip channels a jump host opens.
		return fmt.Sprintf(`LogLevel DEBUG1
UsePAM yes
PasswordAuthentication yes
KbdInteractiveAuthentication yes
HostCertificate %s-cert.pub
TrustedUserCAKeys %s.pub
AllowUsers root %s %s
`, s.hostKey(), userCA, testUser, passwordUser), nil
	})
	if err != nil {
		return nil, err
	}
	a.sshServer = srv
	return a, nil
}

func stopAuthServer() {
	if authServer != nil {
		authServer.stop()
	}
}

func randomSecret() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "pw-" + hex.EncodeToString(b)
}

// ensurePasswordUser creates the account once per machine and sets this
// run's password.
func ensurePasswordUser(password string) error {
	if exec.Command("id", passwordUser).Run() != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", passwordUser).CombinedOutput(); err != nil {
			return fmt.Errorf("useradd: %v: %s", err, out)
		}
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(passwordUser + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chpasswd: %v: %s", err, out)
	}
	return nil
}

// passwordUserDir makes a fresh directory the password user owns.
func passwordUserDir(t *testing.T) string {
	t.Helper()
	return newServedDir(t, passwordUser)
}
