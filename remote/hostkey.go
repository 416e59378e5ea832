package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError says why a server's key was refused, in one line that names
// the host, the key type and fingerprint, and what the user can do.
type HostKeyError struct {
	Host        string // host[:port] as known_hosts spells it
	KeyType     string
	Fingerprint string // SHA256:...
	Changed     bool   // a different key is on record: possible attack
	KnownAt     string // file:line of the recorded key when Changed
	addHint     string
}

func (e *HostKeyError) Error() string {
	if e.Changed {
		return fmt.Sprintf("host key for %s has CHANGED (now %s %s, recorded at %s); this may be an attack, refusing to connect. If the server's key really changed, remove the old entry with: ssh-keygen -R '%s'",
			e.Host, e.KeyType, e.Fingerprint, e.KnownAt, e.Host)
	}
	return fmt.Sprintf("host key for %s is unknown (%s %s); refusing to connect. After checking the fingerprint, add it with: %s",
		e.Host, e.KeyType, e.Fingerprint, e.addHint)
}

// hostKeyChecker verifies server keys against known_hosts files. Nothing is
// ever accepted that is not recorded there.
type hostKeyChecker struct {
	files    []string // the files that exist and were parsed
	callback ssh.HostKeyCallback
}

func newHostKeyChecker(files []string) (*hostKeyChecker, error) {
	var existing []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("known hosts file %s: %w", f, err)
		}
	}
	hk := &hostKeyChecker{files: existing}
	if len(existing) == 0 {
		// No file at all: every key is unknown, which the callback reports.
		hk.callback = func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}
		return hk, nil
	}
	cb, err := knownhosts.New(existing...)
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	hk.callback = cb
	return hk, nil
}

// check is the ssh.HostKeyCallback: it turns knownhosts' errors into a
// HostKeyError the user can act on.
func (hk *hostKeyChecker) check(hostport string, remote net.Addr, key ssh.PublicKey) error {
	err := hk.callback(hostport, remote, key)
	if err == nil {
		return nil
	}
	host, port := splitHostPort(hostport)
	herr := &HostKeyError{
		Host:        knownhosts.Normalize(hostport),
		KeyType:     key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key),
	}
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &revoked):
		return fmt.Errorf("host key for %s (%s %s) is marked @revoked; refusing to connect", herr.Host, herr.KeyType, herr.Fingerprint)
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
		herr.Changed = true
		herr.KnownAt = fmt.Sprintf("%s:%d", keyErr.Want[0].Filename, keyErr.Want[0].Line)
	case errors.As(err, &keyErr):
		file := "~/.ssh/known_hosts"
		if len(hk.files) > 0 {
			file = hk.files[0]
		}
		herr.addHint = fmt.Sprintf("ssh-keyscan -p %s -t %s %s >> %s", port, keyScanType(key.Type()), host, file)
	default:
		return fmt.Errorf("checking host key for %s: %w", herr.Host, err)
	}
	return herr
}

// algorithmsFor returns the host key algorithms recorded for hostport, so
// the handshake asks the server for a key type we can verify. Without this
// a server offering ed25519 first would look "changed" to a user whose
// known_hosts only holds its RSA key.
func (hk *hostKeyChecker) algorithmsFor(hostport string, remote net.Addr) []string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(hk.callback(hostport, remote, probe), &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range keyErr.Want {
		for _, a := range algorithmsForKeyType(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsForKeyType(t string) []string {
	if t == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{t}
}

// keyScanType is ssh-keyscan's -t name for a key type.
func keyScanType(t string) string {
	switch {
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	}
	return t
}

func splitHostPort(hostport string) (string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, "22"
	}
	return host, port
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
