package sshconf

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Algorithms are the lists offered in the handshake and for public key
// login, resolved from ssh_config's Ciphers, MACs, KexAlgorithms,
// HostKeyAlgorithms and PubkeyAcceptedAlgorithms as OpenSSH 9 resolves
// them: OpenSSH's defaults (not x/crypto's, which still take an ssh-rsa
// SHA-1 host key), changed by a list, "+list" (appended), "-list"
// (removed) or "^list" (put first), with * and ? wildcards. What OpenSSH
// does not know is refused, as ssh refuses it; what OpenSSH knows and
// Go's SSH lacks (umac, sntrup761, group18) is left out, with a notice
// when the user named it.
type Algorithms struct {
	Ciphers, MACs, KeyExchanges, HostKeys, PublicKeyAuths []string
	// CASignatures are the signature algorithms a CA may have signed a
	// host certificate with (CASignatureAlgorithms): not SHA-1 ssh-rsa
	// unless named, as since OpenSSH 8.2.
	CASignatures []string
}

// algorithmKind is one keyword's lists.
type algorithmKind struct {
	keyword  string
	defaults []string // OpenSSH 9.9's, in its order
	known    []string // every name OpenSSH 9 accepts, insecure ones included
}

var openSSHKeyAlgorithms = []string{
	"ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
	"rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com",
	"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "rsa-sha2-512", "rsa-sha2-256",
}

var legacyKeyAlgorithms = []string{"ssh-rsa", "ssh-dss", "ssh-rsa-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com"}

var (
	// OpenSSH's set of ciphers, with AES-GCM first as in Go's SSH
	// library (AES-NI makes it the fastest here): under the soak's load
	// with chacha20-poly1305 first, the connection was lost about once
	// a minute, at what looks like each gigabyte's rekey (not found
	// yet; TestTheServersRekeysDuringLargeCopiesLoseNothing does not
	// reproduce it).
	cipherKind = algorithmKind{"Ciphers",
		[]string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"},
		[]string{"chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
			"aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"}}
	macKind = algorithmKind{"MACs",
		[]string{"umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
			"hmac-sha1-etm@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1"},
		[]string{"umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com",
			"hmac-sha1-etm@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com", "hmac-sha2-256", "hmac-sha2-512", "hmac-sha1",
			"hmac-sha1-96", "hmac-sha1-96-etm@openssh.com", "hmac-md5", "hmac-md5-96", "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com"}}
	kexKind = algorithmKind{"KexAlgorithms",
		[]string{"mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "curve25519-sha256",
			"curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
			"diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256"},
		[]string{"mlkem768x25519-sha256", "sntrup761x25519-sha512", "sntrup761x25519-sha512@openssh.com", "curve25519-sha256",
			"curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
			"diffie-hellman-group-exchange-sha256", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
			"diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha1"}}
	hostKeyKind = algorithmKind{"HostKeyAlgorithms", openSSHKeyAlgorithms, append(slices.Clone(openSSHKeyAlgorithms), legacyKeyAlgorithms...)}
	pubkeyKind  = algorithmKind{"PubkeyAcceptedAlgorithms", openSSHKeyAlgorithms, append(slices.Clone(openSSHKeyAlgorithms), legacyKeyAlgorithms...)}
	caSigKind   = algorithmKind{"CASignatureAlgorithms", openSSHSignatures, append(slices.Clone(openSSHSignatures), "ssh-rsa", "ssh-dss")}
)

// openSSHSignatures are the plain key algorithms (signatures, not
// certificate types), OpenSSH's default CASignatureAlgorithms.
var openSSHSignatures = slices.DeleteFunc(slices.Clone(openSSHKeyAlgorithms), func(a string) bool { return strings.Contains(a, "-cert-") })

// goSupports is what x/crypto/ssh implements, insecure algorithms
// included (they are offered only when asked for by name).
var goSupports = func() map[string]bool {
	m := map[string]bool{"curve25519-sha256@libssh.org": true} // implemented, not listed
	for _, a := range []ssh.Algorithms{ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()} {
		for _, list := range [][]string{a.Ciphers, a.MACs, a.KeyExchanges, a.HostKeys, a.PublicKeyAuths} {
			for _, n := range list {
				m[n] = true
			}
		}
	}
	return m
}()

// resolve applies spec ("" for the default) and returns the list Go's SSH
// will offer, the names the user asked for that it lacks, or an error for
// a name or pattern OpenSSH would refuse.
func (k algorithmKind) resolve(spec string) (list, lacking []string, err error) {
	spec = strings.TrimSpace(spec)
	var names []string
	switch {
	case spec == "":
		names = k.defaults
	case strings.HasPrefix(spec, "+"):
		add, err := k.expand(spec[1:])
		if err != nil {
			return nil, nil, err
		}
		names = append(slices.Clone(k.defaults), add...)
		lacking = k.lacking(add)
	case strings.HasPrefix(spec, "-"):
		drop, err := k.expand(spec[1:])
		if err != nil {
			return nil, nil, err
		}
		for _, n := range k.defaults {
			if !slices.Contains(drop, n) {
				names = append(names, n)
			}
		}
	case strings.HasPrefix(spec, "^"):
		first, err := k.expand(spec[1:])
		if err != nil {
			return nil, nil, err
		}
		names = append(first, k.defaults...)
		lacking = k.lacking(first)
	default:
		if names, err = k.expand(spec); err != nil {
			return nil, nil, err
		}
		lacking = k.lacking(names)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if goSupports[n] && !seen[n] {
			seen[n] = true
			list = append(list, n)
		}
	}
	if len(list) == 0 {
		return nil, lacking, fmt.Errorf("%s %q leaves nothing Go's SSH can offer (it lacks %s)", k.keyword, spec, strings.Join(lacking, ", "))
	}
	return list, lacking, nil
}

// expand turns a comma-separated list of names and patterns into names
// OpenSSH knows, in the order given.
func (k algorithmKind) expand(list string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		matched := false
		for _, n := range k.known {
			if ok, _ := path.Match(item, n); ok || item == n {
				matched = true
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
		if !matched && !strings.ContainsAny(item, "*?") {
			return nil, fmt.Errorf("%s: %q is not an algorithm OpenSSH knows", k.keyword, item)
		}
	}
	return out, nil
}

func (k algorithmKind) lacking(names []string) []string {
	var out []string
	for _, n := range names {
		if !goSupports[n] {
			out = append(out, n)
		}
	}
	return out
}

// resolveAlgorithms fills the lists from s, with a notice in notices for
// each name asked for that Go's SSH lacks.
func (s *settings) resolveAlgorithms(notices *[]string) Algorithms {
	var a Algorithms
	for _, f := range []struct {
		kind  algorithmKind
		dst   *[]string
		alias string // the keyword's old spelling
	}{
		{cipherKind, &a.Ciphers, ""},
		{macKind, &a.MACs, ""},
		{kexKind, &a.KeyExchanges, ""},
		{hostKeyKind, &a.HostKeys, ""},
		{pubkeyKind, &a.PublicKeyAuths, "PubkeyAcceptedKeyTypes"},
		{caSigKind, &a.CASignatures, ""},
	} {
		spec, ok := s.get(f.kind.keyword)
		if !ok && f.alias != "" {
			spec, _ = s.get(f.alias)
		}
		list, lacking, err := f.kind.resolve(spec)
		if err != nil {
			if s.err == nil {
				s.err = err
			}
			continue
		}
		if s.g != nil {
			// ssh -G prints whole lists: what its own defaults hold
			// the user did not ask for.
			var asked []string
			for _, n := range lacking {
				if !strings.Contains(","+strings.Join(s.g.base[strings.ToLower(f.kind.keyword)], ",")+",", ","+n+",") {
					asked = append(asked, n)
				}
			}
			lacking = asked
		}
		if len(lacking) > 0 {
			*notices = append(*notices, fmt.Sprintf("%s: Go's SSH library has no %s; left out", f.kind.keyword, strings.Join(lacking, ", ")))
		}
		*f.dst = list
	}
	return a
}

// Supported reports whether Go's SSH library implements the algorithm.
func Supported(name string) bool { return goSupports[name] }

// DefaultAlgorithms are OpenSSH's defaults, as far as Go's SSH has them.
func DefaultAlgorithms() Algorithms {
	var notices []string // none: nothing was asked for
	return (&settings{over: Overrides{}, cfg: &SSHConfig{}}).resolveAlgorithms(&notices)
}
