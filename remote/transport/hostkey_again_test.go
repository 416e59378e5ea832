package transport

import (
	"crypto/rand"
	"crypto/rsa"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// Under StrictHostKeyChecking=no the first key is taken unverified; a
// reconnect takes that key again and no other, said once per key.
func TestReconnectTakesOnlyTheVerifiedKeyEvenUnderNo(t *testing.T) {
	hk, notices := checkerFor(t, sshconf.HostKeyNo, knownHostsFile(t, ""))
	first, other := newEd25519(t), newEd25519(t)
	if err := hk.verify(first, nil); err != nil {
		t.Fatal(err)
	}
	if err := hk.verify(first, nil); err != nil {
		t.Fatalf("the verified key refused on reconnect: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := hk.verify(other, nil); err == nil {
			t.Fatal("another key accepted on reconnect")
		}
	}
	n := 0
	for _, l := range *notices {
		if strings.Contains(l, ssh.FingerprintSHA256(other)) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("refusal said %d times, want once: %q", n, *notices)
	}
}

// known_hosts is read at each reconnect: a key recorded since is taken,
// one marked @revoked since is refused, the verified one included.
func TestReconnectReadsKnownHostsAgain(t *testing.T) {
	first, rotated := newEd25519(t), newEd25519(t)
	file := knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, first))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, file)
	if err := hk.verify(first, nil); err != nil {
		t.Fatal(err)
	}
	add := func(line string) {
		f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(line + "\n")
		f.Close()
	}
	add(knownhosts.Line([]string{"[127.0.0.1]:2222"}, rotated))
	if err := hk.verify(rotated, nil); err != nil {
		t.Fatalf("a key known_hosts lists now refused: %v", err)
	}
	add("@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(first))))
	if err := hk.verify(first, nil); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a key revoked since the mount: %v", err)
	}
}

// A @cert-authority key vouches for certificates only.
func TestCertAuthorityKeyIsNotAPlainHostKey(t *testing.T) {
	ca := newEd25519(t)
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, "@cert-authority [127.0.0.1]:2222 "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca)))))
	var he *HostKeyError
	if err := hk.verify(ca, nil); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("the CA's key as the host key: %v (%v)", err, he)
	}
}

// A host certificate signed with SHA-1 ssh-rsa is refused unless
// CASignatureAlgorithms names it.
func TestHostCertificateSignedWithSHA1IsRefused(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	ca, err := ssh.NewSignerWithAlgorithms(signer.(ssh.AlgorithmSigner), []string{ssh.KeyAlgoRSA})
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: newEd25519(t), CertType: ssh.HostCert, ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	if cert.Signature.Format != ssh.KeyAlgoRSA {
		t.Fatalf("signed with %s", cert.Signature.Format)
	}
	line := "@cert-authority [127.0.0.1]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, line))
	if err := hk.verify(cert, nil); err == nil || !strings.Contains(err.Error(), "SHA-1") {
		t.Fatalf("SHA-1 certificate: %v", err)
	}
	hk, _ = checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, line))
	hk.ep.Algorithms.CASignatures = []string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSA}
	if err := hk.verify(cert, nil); err != nil {
		t.Fatalf("SHA-1 certificate with ssh-rsa allowed: %v", err)
	}
}
