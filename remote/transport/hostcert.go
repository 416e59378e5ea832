package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// hostCertError is a host certificate from a known CA that OpenSSH would
// still refuse.
type hostCertError struct{ Err error }

func (e *hostCertError) Error() string { return e.Err.Error() }

// lookup checks key against known_hosts as OpenSSH does, where x/crypto's
// knownhosts alone is more lenient: a plain key must be on a host key
// line (knownhosts also takes a @cert-authority line's key for the host's
// own); a certificate must be signed by a listed CA with an algorithm
// CASignatureAlgorithms allows (knownhosts takes SHA-1 ssh-rsa), and
// neither its key nor its CA may be revoked. nil means known; otherwise
// a *knownhosts.KeyError (unknown or changed), *knownhosts.RevokedError
// *hostCertError, *revokedFileError (RevokedHostKeys), or a
// *StartupError for a RevokedHostKeys file that cannot be read.
func (hk *hostKeyChecker) lookup(remote net.Addr, key ssh.PublicKey) error {
	if err := checkRevokedHostKeys(hk.ep.RevokedHostKeys, key); err != nil {
		return err
	}
	if err := hk.loadWithCommand(key); err != nil {
		return err
	}
	cert, isCert := key.(*ssh.Certificate)
	if isCert {
		for _, k := range []ssh.PublicKey{cert.Key, cert.SignatureKey} {
			if err := hk.revoked(remote, k); err != nil {
				return err
			}
		}
	}
	if err := hk.revoked(remote, key); err != nil {
		return err
	}
	if err := hk.callback(hk.name(), remote, key); err != nil {
		return err
	}
	if isCert {
		return hk.checkCertSignature(cert)
	}
	want := hk.recorded(remote)
	keys, _ := splitAuthorities(want)
	for _, k := range keys {
		if keyEqual(k.Key, key) {
			return nil
		}
	}
	return &knownhosts.KeyError{Want: want}
}

// revoked returns a *knownhosts.RevokedError when known_hosts marks key
// @revoked.
func (hk *hostKeyChecker) revoked(remote net.Addr, key ssh.PublicKey) error {
	var r *knownhosts.RevokedError
	if err := hk.callback(hk.name(), remote, key); errors.As(err, &r) {
		return err
	}
	return nil
}

// checkCertSignature refuses a CA signature algorithm not allowed, as
// OpenSSH's sshkey_check_cert_sigtype does.
func (hk *hostKeyChecker) checkCertSignature(cert *ssh.Certificate) error {
	allowed := hk.ep.Algorithms.CASignatures
	if allowed == nil {
		allowed = sshconf.DefaultAlgorithms().CASignatures
	}
	if cert.Signature == nil || slices.Contains(allowed, cert.Signature.Format) {
		return nil
	}
	alg := cert.Signature.Format
	if alg == ssh.KeyAlgoRSA {
		alg += " (SHA-1)"
	}
	return &hostCertError{Err: fmt.Errorf("its CA signed it with %s, which CASignatureAlgorithms does not allow", alg)}
}

// recorded lists every known_hosts line for the host, host keys and
// @cert-authority keys alike: knownhosts names them when it is shown a
// key it has never seen.
func (hk *hostKeyChecker) recorded(remote net.Addr) []knownhosts.KnownKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(hk.callback(hk.name(), remote, probe), &keyErr) {
		return nil
	}
	return keyErr.Want
}

func keyEqual(a, b ssh.PublicKey) bool {
	return a != nil && b != nil && bytes.Equal(a.Marshal(), b.Marshal())
}
