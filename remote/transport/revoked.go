package transport

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// revokedFileError is a key that ssh_config's RevokedHostKeys revokes.
type revokedFileError struct{ file string }

func (e *revokedFileError) Error() string { return "revoked by " + e.file }

// checkRevokedHostKeys applies RevokedHostKeys, as OpenSSH's
// sshkey_check_revoked does: the file is a KRL (ssh-keygen -k) or a list
// of public keys, one a line; a key is revoked when listed, and a
// certificate also when its CA is. It is read at each check, so a
// reconnect sees a list updated since the mount. A file that cannot be
// read or parsed is an error: it refuses the key (fail closed), as it
// does in ssh.
func checkRevokedHostKeys(file string, key ssh.PublicKey) error {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return &StartupError{Kind: StartupConfig, Err: fmt.Errorf("RevokedHostKeys %s: %v; refusing every host key", file, UnwrapPathError(err))}
	}
	revoked := false
	if isKRL(data) {
		k, err := parseKRL(data)
		if err != nil {
			return &StartupError{Kind: StartupConfig, Err: fmt.Errorf("RevokedHostKeys %s: %v; refusing every host key", file, err)}
		}
		revoked = k.revokes(key)
	} else if revoked, err = keyListRevokes(data, key); err != nil {
		return &StartupError{Kind: StartupConfig, Err: fmt.Errorf("RevokedHostKeys %s: %v; refusing every host key", file, err)}
	}
	if revoked {
		return &revokedFileError{file: file}
	}
	return nil
}

// keyListRevokes looks key (its plain key, and a certificate's CA) up in
// a text list of public keys.
func keyListRevokes(data []byte, key ssh.PublicKey) (bool, error) {
	want := [][]byte{key.Marshal()}
	if cert, ok := key.(*ssh.Certificate); ok {
		want = [][]byte{cert.Key.Marshal(), cert.SignatureKey.Marshal()}
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		listed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return false, fmt.Errorf("line %d: neither a KRL nor a public key", i+1)
		}
		if c, ok := listed.(*ssh.Certificate); ok {
			listed = c.Key
		}
		for _, w := range want {
			if bytes.Equal(listed.Marshal(), w) {
				return true, nil
			}
		}
	}
	return false, nil
}
