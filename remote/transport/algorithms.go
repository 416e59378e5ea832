package transport

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// The handshake's side of the algorithm lists that sshconf resolves.

// preferring orders allowed with the algorithms of keys known for the host
// first (as ssh does, so that a key we can verify is asked for), and
// leaves out whatever allowed does not hold.
func preferring(known, allowed []string) []string {
	var out []string
	for _, a := range known {
		if slices.Contains(allowed, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, a := range allowed {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// negotiationAdvice turns "no common algorithm" into ssh's kind of line:
// what the server offers and the option that would allow it.
func negotiationAdvice(addr string, e *ssh.AlgorithmNegotiationError) error {
	keyword, what := "", e.What
	switch {
	case strings.Contains(e.What, "key exchange"):
		keyword, what = "KexAlgorithms", "key exchange method"
	case strings.Contains(e.What, "host key"):
		keyword, what = "HostKeyAlgorithms", "host key type"
	case strings.Contains(e.What, "cipher"):
		keyword, what = "Ciphers", "cipher"
	case strings.Contains(e.What, "MAC"):
		keyword, what = "MACs", "MAC"
	}
	advice := ""
	var allowable []string
	for _, n := range e.RequestedAlgorithms {
		if sshconf.Supported(n) {
			allowable = append(allowable, n)
		}
	}
	if keyword != "" && len(allowable) > 0 {
		advice = fmt.Sprintf("; to allow it (if you trust it): -o %s=+%s", keyword, allowable[0])
	} else if keyword != "" {
		advice = "; Go's SSH supports none of them"
	}
	return fmt.Errorf("unable to negotiate with %s: no matching %s found. Their offer: %s%s", addr, what, strings.Join(e.RequestedAlgorithms, ","), advice)
}

// certAlgorithm names the certificate form of a plain signature
// algorithm.
var certAlgorithm = map[string]string{
	"rsa-sha2-512":                       "rsa-sha2-512-cert-v01@openssh.com",
	"rsa-sha2-256":                       "rsa-sha2-256-cert-v01@openssh.com",
	"ssh-rsa":                            "ssh-rsa-cert-v01@openssh.com",
	"ssh-dss":                            "ssh-dss-cert-v01@openssh.com",
	"ssh-ed25519":                        "ssh-ed25519-cert-v01@openssh.com",
	"ecdsa-sha2-nistp256":                "ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"ecdsa-sha2-nistp384":                "ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521":                "ecdsa-sha2-nistp521-cert-v01@openssh.com",
	"sk-ssh-ed25519@openssh.com":         "sk-ssh-ed25519-cert-v01@openssh.com",
	"sk-ecdsa-sha2-nistp256@openssh.com": "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
}

// signatureAlgorithms lists what a key of keyType can sign with, as plain
// algorithm names, and whether the key is a certificate.
func signatureAlgorithms(keyType string) (plain []string, cert bool) {
	for p, c := range certAlgorithm {
		if c == keyType {
			keyType, cert = p, true
			break
		}
	}
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}, cert
	}
	return []string{keyType}, cert
}

// acceptedSigner restricts s to the signature algorithms PubkeyAccepted-
// Algorithms allows (an RSA key signs with rsa-sha2-512 or -256, not SHA-1
// ssh-rsa, unless asked for by name); false: the key is not offered.
func acceptedSigner(s ssh.Signer, allowed []string) (ssh.Signer, bool) {
	if len(allowed) == 0 {
		return s, true
	}
	plain, cert := signatureAlgorithms(s.PublicKey().Type())
	var algs []string
	for _, p := range plain {
		name := p
		if cert {
			name = certAlgorithm[p]
		}
		if slices.Contains(allowed, name) {
			algs = append(algs, p)
		}
	}
	if len(algs) == 0 {
		return nil, false
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok || len(algs) == len(plain) {
		return s, true
	}
	ms, err := ssh.NewSignerWithAlgorithms(as, algs)
	if err != nil {
		return nil, false
	}
	return ms, true
}
