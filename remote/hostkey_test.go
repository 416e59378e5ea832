package remote

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func newEd25519(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newECDSA(t *testing.T) ssh.PublicKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func knownHostsFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0644); err != nil {
		t.Fatal(err)
	}
	return p
}

var addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}

func TestRecordedKeyIsAcceptedInBracketedPortForm(t *testing.T) {
	key := newEd25519(t)
	hk, err := newHostKeyChecker([]string{knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, key))})
	if err != nil {
		t.Fatal(err)
	}
	if err := hk.check("127.0.0.1:2222", addr, key); err != nil {
		t.Fatalf("recorded key refused: %v", err)
	}
}

func TestHashedEntryIsAccepted(t *testing.T) {
	key := newEd25519(t)
	hashed := knownhosts.HashHostname("[127.0.0.1]:2222")
	hk, _ := newHostKeyChecker([]string{knownHostsFile(t, knownhosts.Line([]string{hashed}, key))})
	if err := hk.check("127.0.0.1:2222", addr, key); err != nil {
		t.Fatalf("hashed entry refused: %v", err)
	}
}

func TestUnknownKeyIsRefusedWithFingerprintAndHowToAdd(t *testing.T) {
	key := newEd25519(t)
	file := knownHostsFile(t, knownhosts.Line([]string{"otherhost"}, newEd25519(t)))
	hk, _ := newHostKeyChecker([]string{file})
	err := hk.check("127.0.0.1:2222", addr, key)
	var he *HostKeyError
	if !errors.As(err, &he) || he.Changed {
		t.Fatalf("got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"[127.0.0.1]:2222", "ssh-ed25519", ssh.FingerprintSHA256(key), "ssh-keyscan -p 2222 -t ed25519 127.0.0.1 >> " + file} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
}

func TestNoKnownHostsFileRefusesEveryKey(t *testing.T) {
	hk, err := newHostKeyChecker([]string{filepath.Join(t.TempDir(), "absent")})
	if err != nil {
		t.Fatal(err)
	}
	if err := hk.check("127.0.0.1:2222", addr, newEd25519(t)); err == nil {
		t.Fatal("key accepted with no known_hosts at all")
	}
}

func TestChangedKeyIsRefusedAsPossibleAttack(t *testing.T) {
	file := knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, newEd25519(t)))
	hk, _ := newHostKeyChecker([]string{file})
	err := hk.check("127.0.0.1:2222", addr, newEd25519(t))
	var he *HostKeyError
	if !errors.As(err, &he) || !he.Changed {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), file+":1") || !strings.Contains(err.Error(), "ssh-keygen -R '[127.0.0.1]:2222'") {
		t.Errorf("message: %s", err)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	key := newEd25519(t)
	file := knownHostsFile(t, "@revoked * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))), knownhosts.Line([]string{"[127.0.0.1]:2222"}, key))
	hk, _ := newHostKeyChecker([]string{file})
	if err := hk.check("127.0.0.1:2222", addr, key); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("got %v", err)
	}
}

func TestHandshakeAsksForTheKeyTypeOnRecord(t *testing.T) {
	file := knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, newECDSA(t)))
	hk, _ := newHostKeyChecker([]string{file})
	algos := hk.algorithmsFor("127.0.0.1:2222", addr)
	if len(algos) != 1 || algos[0] != ssh.KeyAlgoECDSA256 {
		t.Fatalf("algorithms %v, want [%s]", algos, ssh.KeyAlgoECDSA256)
	}
	if got := hk.algorithmsFor("unknown:22", addr); len(got) != 0 {
		t.Fatalf("unknown host: %v, want the defaults (none)", got)
	}
}
