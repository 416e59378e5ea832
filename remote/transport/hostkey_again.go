package transport

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// again checks the key of a reconnect within the mount. known_hosts is
// read again, so that a key marked @revoked since is refused. The key
// the first connection verified is taken, and so is one known_hosts
// lists now (the server's key was rotated and the user recorded the new
// one); nothing else, whatever StrictHostKeyChecking says: an unknown
// key in the middle of a mount is a server reinstalled or someone in the
// middle, and nobody is there to ask. A refusal is said once per key;
// the reconnect fails, and calls fail as when the server is gone.
func (hk *hostKeyChecker) again(remote net.Addr, key ssh.PublicKey) error {
	if err := hk.load(); err != nil {
		return hk.refuse(key, fmt.Sprintf("reading known_hosts again: %v", err))
	}
	err := hk.lookup(remote, key)
	var revoked *knownhosts.RevokedError
	var certErr *hostCertError
	var revokedFile *revokedFileError
	var startup *StartupError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return hk.refuse(key, "it is now marked @revoked")
	case errors.As(err, &revokedFile):
		return hk.refuse(key, "it is now revoked by RevokedHostKeys "+revokedFile.file)
	case errors.As(err, &certErr):
		return hk.refuse(key, certErr.Err.Error())
	case errors.As(err, &startup):
		return hk.refuse(key, startup.Err.Error())
	case keyEqual(key, hk.verified):
		return nil
	}
	return hk.refuse(key, fmt.Sprintf("it is not the key this mount verified (%s %s) nor one known_hosts lists now", hk.verified.Type(), ssh.FingerprintSHA256(hk.verified)))
}

// refuse says once per key why a reconnect was refused, and returns it.
func (hk *hostKeyChecker) refuse(key ssh.PublicKey, why string) error {
	fp := ssh.FingerprintSHA256(key)
	err := fmt.Errorf("host key of %s changed within the mount (now %s %s): %s; refusing to reconnect", knownhosts.Normalize(hk.name()), key.Type(), fp, why)
	if hk.refused != fp {
		hk.refused = fp
		hk.notice(err.Error())
	}
	return err
}
