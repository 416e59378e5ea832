package transport

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// authenticator logs one endpoint in, on the first connection and on every
// reconnect. Key files are read and their passphrases asked once; a
// password is kept after the first login only when the user opted in
// (Config.KeepPassword), otherwise it is wiped and a reconnect relies on
// keys alone.
type authenticator struct {
	ep       *sshconf.Endpoint
	debugf   func(string, ...any)
	prompter Prompter // nil once the first login is done
	password []byte   // given at mount time (-o password_stdin); nil if none
	keep     bool

	keys   []ssh.Signer // from key files and certificates, loaded once
	loaded bool

	// answered is set when the server asked for a password or questions
	// and got answers: a login that needed them is not tried again in
	// the background unless the password was kept (see canLoginAgain).
	answered atomic.Bool
}

// canLoginAgain reports whether a login like the first can be made with
// nobody to ask: by key or agent, or with the password kept for it. A
// login bound to fail is not tried (servers count failures, fail2ban
// bans for them).
func (a *authenticator) canLoginAgain() bool {
	return !a.answered.Load() || a.password != nil
}

// newAuthenticator takes its own copy of the password: the caller wipes
// its copy as soon as the first connection is made. Only the target gets
// it (target true): the password was given for the host mounted, and a
// jump host that asked for one would otherwise be handed it.
func newAuthenticator(ep *sshconf.Endpoint, cfg *Options, target bool) *authenticator {
	a := &authenticator{ep: ep, debugf: cfg.debugf, prompter: cfg.Prompter, keep: cfg.KeepPassword}
	if cfg.Password != nil && target {
		a.password = append(make([]byte, 0, len(cfg.Password)), cfg.Password...)
	}
	return a
}

// loggedIn ends what only the first login may use: the prompter (the
// terminal is gone once the mount runs in the background) and, unless
// the user asked to keep it, the password.
func (a *authenticator) loggedIn() {
	a.prompter = nil
	if !a.keep {
		wipe(a.password)
		a.password = nil
	}
}

// methods are offered in ssh's order: public keys (the agent's, then key
// files), keyboard-interactive, password. Methods that would need an
// answer nobody can give are left out, since an error from one method
// would end the whole login. The returned func releases the agent.
func (a *authenticator) methods(p Prompter) ([]ssh.AuthMethod, func(), error) {
	if !a.loaded {
		if err := a.loadKeys(p); err != nil {
			return nil, nil, err
		}
		a.loaded = true
	}
	var methods []ssh.AuthMethod
	release := func() {}
	if a.ep.PubkeyAuthentication {
		signers, closeAgent := a.agentSigners(p == nil)
		release = closeAgent
		var offered []ssh.Signer
		for _, s := range append(signers, a.keys...) {
			fp := ssh.FingerprintSHA256(s.PublicKey())
			if s, ok := acceptedSigner(s, a.ep.Algorithms.PublicKeyAuths); ok {
				a.debugf("offering %s key %s", s.PublicKey().Type(), fp)
				offered = append(offered, s)
			} else {
				a.debugf("not offering %s key %s: PubkeyAcceptedAlgorithms allows none of its signatures", s.PublicKey().Type(), fp)
			}
		}
		signers = offered
		if len(signers) > 0 {
			methods = append(methods, ssh.PublicKeys(signers...))
		}
	}
	canAnswer := a.password != nil || (p != nil && !a.ep.BatchMode)
	if a.ep.KbdInteractiveAuth && canAnswer {
		methods = append(methods, a.retry(ssh.KeyboardInteractive(a.keyboardInteractive(p))))
	}
	if a.ep.PasswordAuthentication && canAnswer {
		methods = append(methods, a.retry(ssh.PasswordCallback(a.passwordAnswer(p))))
	}
	return methods, release, nil
}

// retry lets the user mistype a password up to NumberOfPasswordPrompts
// times; a password given on stdin is tried once.
func (a *authenticator) retry(m ssh.AuthMethod) ssh.AuthMethod {
	if a.password != nil {
		return m
	}
	return ssh.RetryableAuthMethod(m, a.ep.NumberOfPasswordPrompts)
}

func (a *authenticator) passwordAnswer(p Prompter) func() (string, error) {
	return func() (string, error) {
		a.answered.Store(true)
		if a.password != nil {
			return string(a.password), nil
		}
		secret, err := p.Secret(fmt.Sprintf("%s@%s's password: ", a.ep.User, a.ep.Host))
		if err != nil {
			return "", err
		}
		defer wipe(secret)
		return string(secret), nil
	}
}

// keyboardInteractive answers the server's questions: a password given at
// mount time answers the hidden ones (as sshfs's password_stdin does),
// anything else is asked.
func (a *authenticator) keyboardInteractive(p Prompter) ssh.KeyboardInteractiveChallenge {
	return func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		if len(questions) == 0 {
			return answers, nil
		}
		a.answered.Store(true)
		// What the server sends reaches the terminal only made visible:
		// an escape sequence could rewrite the screen or fake a prompt.
		if p != nil && a.password == nil {
			if text := strings.TrimSpace(name + "\n" + instruction); text != "" {
				p.Say(visible(text))
			}
		}
		for i, q := range questions {
			switch {
			case !echos[i] && a.password != nil:
				answers[i] = string(a.password)
			case p == nil || a.ep.BatchMode:
				return nil, fmt.Errorf("the server asks %q and nobody can answer (no terminal or SSH_ASKPASS)", strings.TrimSpace(q))
			case echos[i]:
				ans, err := p.Ask(visible(q))
				if err != nil {
					return nil, err
				}
				answers[i] = ans
			default:
				secret, err := p.Secret(visible(q))
				if err != nil {
					return nil, err
				}
				answers[i] = string(secret)
				wipe(secret)
			}
		}
		return answers, nil
	}
}

// agentSigners lists the agent's keys; with IdentitiesOnly only those
// that match a configured key file. Unattended (a reconnect, BatchMode:
// nobody to confirm a key's use) the agent's answers, the signature too,
// must come within ConnectTimeout: an agent that waits for a confirmation
// nobody gives would hold the reconnect, and every call after it, for
// good.
func (a *authenticator) agentSigners(unattended bool) ([]ssh.Signer, func()) {
	if a.ep.AgentSocket == "" {
		return nil, func() {}
	}
	conn, err := net.Dial("unix", a.ep.AgentSocket)
	if err != nil {
		a.debugf("ssh-agent at %s unreachable: %v", a.ep.AgentSocket, err)
		return nil, func() {}
	}
	if unattended && a.ep.ConnectTimeout > 0 {
		conn.SetDeadline(time.Now().Add(a.ep.ConnectTimeout))
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		a.debugf("ssh-agent: listing keys: %v", err)
	}
	a.debugf("ssh-agent offers %d key(s)", len(signers))
	if a.ep.IdentitiesOnly {
		var kept []ssh.Signer
		for _, s := range signers {
			if a.isConfiguredKey(s.PublicKey()) {
				kept = append(kept, s)
			}
		}
		signers = kept
	}
	return signers, func() { conn.Close() }
}

func (a *authenticator) isConfiguredKey(pub ssh.PublicKey) bool {
	for _, k := range a.keys {
		kp := k.PublicKey()
		if cert, ok := kp.(*ssh.Certificate); ok {
			kp = cert.Key
		}
		if bytes.Equal(kp.Marshal(), pub.Marshal()) {
			return true
		}
	}
	return false
}

// loadKeys reads every identity file. A key with a passphrase is loaded
// without it: its public half is offered, and the passphrase is asked only
// if the server would accept the key, as ssh does.
func (a *authenticator) loadKeys(p Prompter) error {
	for _, id := range a.ep.Identities {
		s, err := a.loadKey(id, p)
		switch {
		case err != nil && id.Required:
			return &StartupError{Kind: StartupConfig, Err: err}
		case err != nil:
			a.debugf("skipping key: %v", err)
		case s != nil:
			a.keys = append(a.keys, a.withCertificates(id.Path, s)...)
		}
	}
	return nil
}

func (a *authenticator) loadKey(id sshconf.Identity, p Prompter) (ssh.Signer, error) {
	data, err := os.ReadFile(id.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !id.Required {
			return nil, nil
		}
		return nil, fmt.Errorf("identity file %s: %v", id.Path, UnwrapPathError(err))
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		pub := missing.PublicKey
		if pub == nil {
			pub = readPublicKey(id.Path + ".pub")
		}
		if pub == nil {
			return nil, fmt.Errorf("identity file %s: encrypted, and its public key is not known (no %s.pub)", id.Path, id.Path)
		}
		if p == nil || a.ep.BatchMode {
			a.debugf("key %s needs a passphrase and nobody can be asked (no terminal or SSH_ASKPASS); not offered", id.Path)
			return nil, nil
		}
		return &lockedKey{pub: pub, path: id.Path, data: data, prompter: p, tries: a.ep.NumberOfPasswordPrompts}, nil
	case err != nil:
		return nil, fmt.Errorf("identity file %s: %v", id.Path, err)
	}
	wipe(data) // the parsed key is all that is kept
	return s, nil
}

// withCertificates returns the key, preceded by the OpenSSH certificates
// issued for it: PATH-cert.pub and any CertificateFile of the same key.
func (a *authenticator) withCertificates(path string, key ssh.Signer) []ssh.Signer {
	var out []ssh.Signer
	for _, f := range append([]string{path + "-cert.pub"}, a.ep.CertificateFiles...) {
		cert, ok := readPublicKey(f).(*ssh.Certificate)
		if !ok || !bytes.Equal(cert.Key.Marshal(), key.PublicKey().Marshal()) {
			continue
		}
		cs, err := ssh.NewCertSigner(cert, key)
		if err != nil {
			a.debugf("certificate %s: %v", f, err)
			continue
		}
		out = append(out, cs)
	}
	return append(out, key)
}

func readPublicKey(path string) ssh.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return pub
}

// lockedKey is a passphrase-protected key. Its passphrase is asked the
// first time the server is willing to take a signature from it; the
// decrypted key then stays in memory for reconnects, as in ssh-agent.
type lockedKey struct {
	pub      ssh.PublicKey
	path     string
	data     []byte
	prompter Prompter
	tries    int
	signer   ssh.Signer
}

func (k *lockedKey) PublicKey() ssh.PublicKey { return k.pub }

func (k *lockedKey) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	if err := k.unlock(); err != nil {
		return nil, err
	}
	return k.signer.Sign(rand, data)
}

func (k *lockedKey) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	if err := k.unlock(); err != nil {
		return nil, err
	}
	if as, ok := k.signer.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	return k.signer.Sign(rand, data)
}

func (k *lockedKey) unlock() error {
	if k.signer != nil {
		return nil
	}
	for i := 0; i < k.tries; i++ {
		pass, err := k.prompter.Secret(fmt.Sprintf("Enter passphrase for key '%s': ", k.path))
		if err != nil {
			return err
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(k.data, pass)
		wipe(pass)
		if err == nil {
			k.signer = s
			wipe(k.data)
			return nil
		}
		if !errors.Is(err, x509.IncorrectPasswordError) {
			return fmt.Errorf("identity file %s: %v", k.path, err)
		}
		k.prompter.Say("Bad passphrase, try again.")
	}
	return fmt.Errorf("identity file %s: passphrase not accepted", k.path)
}
