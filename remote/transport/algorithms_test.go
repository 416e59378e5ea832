package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

func TestPubkeyAcceptedAlgorithmsRestrictsWhatAKeySignsWith(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rs, _ := ssh.NewSignerFromKey(rk)
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	es, _ := ssh.NewSignerFromKey(ek)
	def := sshconf.DefaultAlgorithms().PublicKeyAuths
	s, ok := acceptedSigner(rs, def)
	ms, multi := s.(ssh.MultiAlgorithmSigner)
	if !ok || !multi || slices.Contains(ms.Algorithms(), ssh.KeyAlgoRSA) {
		t.Fatalf("an RSA key by default: offered %v, algorithms %v; want SHA-2 only", ok, s)
	}
	if _, ok := acceptedSigner(es, []string{"rsa-sha2-512"}); ok {
		t.Error("an ed25519 key was offered when only rsa-sha2-512 is accepted")
	}
	legacy := append(sshconf.DefaultAlgorithms().PublicKeyAuths, ssh.KeyAlgoRSA)
	s, _ = acceptedSigner(rs, legacy)
	if ms, multi := s.(ssh.MultiAlgorithmSigner); multi && !slices.Contains(ms.Algorithms(), ssh.KeyAlgoRSA) {
		t.Errorf("+ssh-rsa: %v", ms.Algorithms())
	}
}
