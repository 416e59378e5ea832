package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sftpmount/sftpmount/remote/sshconf"
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

// hostKeyChecker verifies one endpoint's key against its known_hosts
// files and applies StrictHostKeyChecking to a key not on record. A
// changed or revoked key is refused whatever the mode.
//
// Within one mount, a reconnect takes only the key the first connection
// verified, or a key known_hosts (read again) lists now; never an
// unknown one, whatever StrictHostKeyChecking says (hostkey_again.go).
type hostKeyChecker struct {
	ep     *sshconf.Endpoint
	notice func(string) // one line on stderr: keys added or accepted unverified

	mu       sync.Mutex // guards callback, verified, refused: a reconnect and a bulk login may check at once
	callback ssh.HostKeyCallback
	verified ssh.PublicKey // the key the first connection took; nil before
	refused  string        // fingerprint a reconnect last refused, said once
}

func newHostKeyChecker(ep *sshconf.Endpoint, notice func(string)) (*hostKeyChecker, error) {
	hk := &hostKeyChecker{ep: ep, notice: notice}
	return hk, hk.load()
}

// load reads the known_hosts files, and extra (KnownHostsCommand's
// output) after them.
func (hk *hostKeyChecker) load(extra ...string) error {
	var existing []string
	for _, f := range append(append(append([]string{}, hk.ep.KnownHostsFiles...), hk.ep.GlobalKnownHostsFiles...), extra...) {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return &StartupError{Kind: StartupConfig, Err: fmt.Errorf("known hosts file %s: %v", f, UnwrapPathError(err))}
		}
	}
	if len(existing) == 0 {
		// No file at all: every key is unknown.
		hk.callback = func(string, net.Addr, ssh.PublicKey) error {
			return &knownhosts.KeyError{}
		}
		return nil
	}
	cb, err := knownhosts.New(existing...)
	if err != nil {
		return &StartupError{Kind: StartupConfig, Err: fmt.Errorf("known hosts: %v", err)}
	}
	hk.callback = cb
	return nil
}

// name is what the key is looked up (and recorded) under: host:port,
// or the HostKeyAlias, which ssh uses without a port.
func (hk *hostKeyChecker) name() string {
	if hk.ep.HostKeyAlias != "" {
		return net.JoinHostPort(hk.ep.HostKeyAlias, "22")
	}
	return hk.ep.Addr()
}

// check returns the ssh.HostKeyCallback for one handshake. p may ask the
// user about a key not on record (StrictHostKeyChecking=ask); nil means
// nobody can be asked, and such a key is refused.
func (hk *hostKeyChecker) check(p Prompter) ssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		hk.mu.Lock()
		defer hk.mu.Unlock()
		if hk.verified != nil {
			return hk.again(remote, key)
		}
		if err := hk.first(remote, key, p); err != nil {
			return err
		}
		hk.verified = key
		return nil
	}
}

// first checks the key of the mount's first connection against
// known_hosts, and applies StrictHostKeyChecking to a key not on record.
func (hk *hostKeyChecker) first(remote net.Addr, key ssh.PublicKey, p Prompter) error {
	err := hk.lookup(remote, key)
	if err == nil {
		return nil
	}
	name := hk.name()
	host, port := splitHostPort(name)
	herr := &HostKeyError{
		Host:        knownhosts.Normalize(name),
		KeyType:     key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key),
	}
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	var certErr *hostCertError
	var revokedFile *revokedFileError
	var startup *StartupError
	switch {
	case errors.As(err, &revoked):
		return fmt.Errorf("host key for %s (%s %s) is marked @revoked; refusing to connect", herr.Host, herr.KeyType, herr.Fingerprint)
	case errors.As(err, &revokedFile):
		return fmt.Errorf("host key for %s (%s %s) is revoked by RevokedHostKeys %s; refusing to connect", herr.Host, herr.KeyType, herr.Fingerprint, revokedFile.file)
	case errors.As(err, &startup):
		return err
	case errors.As(err, &certErr):
		return &StartupError{Kind: StartupHostKey, Err: fmt.Errorf("host certificate for %s: %v; refusing to connect", herr.Host, certErr.Err)}
	case errors.As(err, &keyErr):
		if keys, _ := splitAuthorities(keyErr.Want); len(keys) > 0 {
			herr.Changed = true
			herr.KnownAt = fmt.Sprintf("%s:%d", keys[0].Filename, keys[0].Line)
			return herr
		}
	default:
		return fmt.Errorf("checking host key for %s: %w", herr.Host, err)
	}
	return hk.unknown(herr, key, host, port, p)
}

// unknown applies StrictHostKeyChecking to a key with no record.
func (hk *hostKeyChecker) unknown(herr *HostKeyError, key ssh.PublicKey, host, port string, p Prompter) error {
	herr.addHint = fmt.Sprintf("ssh-keyscan -p %s -t %s %s >> %s", port, keyScanType(key.Type()), host, hk.writeFile())
	switch hk.ep.StrictHostKeyChecking {
	case sshconf.HostKeyNo:
		hk.notice(fmt.Sprintf("warning: StrictHostKeyChecking=no: accepting the UNVERIFIED host key of %s (%s %s)", herr.Host, herr.KeyType, herr.Fingerprint))
		return nil
	case sshconf.HostKeyAcceptNew:
		return hk.record(herr, key)
	case sshconf.HostKeyAsk:
		if p == nil || hk.ep.BatchMode {
			return herr
		}
		return hk.ask(herr, key, p)
	}
	return herr
}

func (hk *hostKeyChecker) ask(herr *HostKeyError, key ssh.PublicKey, p Prompter) error {
	p.Say(fmt.Sprintf("The authenticity of host '%s' can't be established.\n%s key fingerprint is %s.", herr.Host, herr.KeyType, herr.Fingerprint))
	q := "Are you sure you want to continue connecting (yes/no/[fingerprint])? "
	for {
		ans, err := p.Ask(q)
		if err != nil {
			return fmt.Errorf("host key for %s: %v", herr.Host, err)
		}
		switch ans = strings.TrimSpace(ans); {
		case strings.EqualFold(ans, "yes") || ans == herr.Fingerprint:
			return hk.record(herr, key)
		case strings.EqualFold(ans, "no"):
			return fmt.Errorf("host key for %s (%s %s) not accepted; refusing to connect", herr.Host, herr.KeyType, herr.Fingerprint)
		}
		q = "Please type 'yes', 'no' or the fingerprint: "
	}
}

// writeFile is the known_hosts file new keys go to: the first user file.
func (hk *hostKeyChecker) writeFile() string {
	if len(hk.ep.KnownHostsFiles) > 0 {
		return hk.ep.KnownHostsFiles[0]
	}
	return "~/.ssh/known_hosts"
}

// record appends the key to the user's known_hosts, hashed if
// HashKnownHosts says so, and reloads the files for later reconnects.
func (hk *hostKeyChecker) record(herr *HostKeyError, key ssh.PublicKey) error {
	if len(hk.ep.KnownHostsFiles) == 0 {
		return fmt.Errorf("host key for %s: no UserKnownHostsFile to record it in", herr.Host)
	}
	file := hk.ep.KnownHostsFiles[0]
	name := herr.Host
	if hk.ep.HashKnownHosts {
		name = knownhosts.HashHostname(name)
	}
	if err := appendLine(file, knownhosts.Line([]string{name}, key)); err != nil {
		return fmt.Errorf("recording host key for %s in %s: %v", herr.Host, file, err)
	}
	hk.notice(fmt.Sprintf("permanently added %s (%s %s) to %s", herr.Host, herr.KeyType, herr.Fingerprint, file))
	if err := hk.load(); err != nil {
		return err
	}
	return nil
}

func appendLine(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600)
	if err != nil {
		return UnwrapPathError(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// algorithmsFor returns the host key algorithms recorded for the host, so
// the handshake asks the server for a key type we can verify. Without this
// a server offering ed25519 first would look "changed" to a user whose
// known_hosts only holds its RSA key. When a @cert-authority line covers
// the host, certificates are asked for first.
func (hk *hostKeyChecker) algorithmsFor(remote net.Addr) []string {
	hk.mu.Lock()
	want := hk.recorded(remote)
	hk.mu.Unlock()
	keys, authorities := splitAuthorities(want)
	var algos []string
	seen := map[string]bool{}
	add := func(list []string) {
		for _, a := range list {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	if len(authorities) > 0 {
		add(certAlgorithms)
		if len(keys) == 0 {
			add(plainAlgorithms)
		}
	}
	for _, k := range keys {
		add(algorithmsForKeyType(k.Key.Type()))
	}
	return algos
}

var certAlgorithms = []string{ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01,
	ssh.CertAlgoECDSA521v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01}

var plainAlgorithms = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384,
	ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}

// splitAuthorities separates recorded host keys from @cert-authority
// keys, which x/crypto's knownhosts reports together.
func splitAuthorities(want []knownhosts.KnownKey) (keys, authorities []knownhosts.KnownKey) {
	for _, k := range want {
		if isAuthorityLine(k.Filename, k.Line) {
			authorities = append(authorities, k)
		} else {
			keys = append(keys, k)
		}
	}
	return keys, authorities
}

func isAuthorityLine(file string, line int) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return false
	}
	return strings.HasPrefix(strings.TrimSpace(lines[line-1]), "@cert-authority")
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
