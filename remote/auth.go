package remote

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// authMethods builds the methods offered to the server, in ssh's order:
// the agent's keys, then key files. Later issues add keyboard-interactive
// and password after these; each is one more entry in the slice.
// The returned closer releases the agent socket.
func authMethods(cfg *Config) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	closer := func() {}

	if cfg.UseAgent {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				cfg.debugf("ssh-agent at $SSH_AUTH_SOCK unreachable: %v", err)
			} else {
				closer = func() { conn.Close() }
				agentSigners, err := agent.NewClient(conn).Signers()
				if err != nil {
					cfg.debugf("ssh-agent: listing keys: %v", err)
				}
				cfg.debugf("ssh-agent offers %d key(s)", len(agentSigners))
				signers = append(signers, agentSigners...)
			}
		}
	}

	for _, f := range cfg.IdentityFiles {
		s, err := loadKeyFile(f)
		if err != nil {
			closer()
			return nil, nil, &StartupError{Kind: StartupConfig, Err: err}
		}
		if s != nil {
			signers = append(signers, s)
		}
	}
	for _, f := range cfg.DefaultIdentityFiles {
		s, err := loadKeyFile(f)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			cfg.debugf("skipping default key: %v", err)
		case s != nil:
			signers = append(signers, s)
		}
	}
	for _, s := range signers {
		cfg.debugf("offering %s key %s", s.PublicKey().Type(), ssh.FingerprintSHA256(s.PublicKey()))
	}
	if len(signers) == 0 {
		return nil, closer, nil
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closer, nil
}

// loadKeyFile reads a private key. A passphrase-protected key is skipped
// (nil signer, no error) until passphrase prompting exists, so that it does
// not stop the agent or other keys from being tried.
func loadKeyFile(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("identity file %s: %w", path, pe.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return s, nil
}
