package transport

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

	"github.com/sftpmount/sftpmount/remote/sshconf"
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

// checkerFor is a checker for 127.0.0.1:2222 with the given user files
// and StrictHostKeyChecking mode; notices are collected.
func checkerFor(t *testing.T, mode string, files ...string) (*hostKeyChecker, *[]string) {
	t.Helper()
	var notices []string
	ep := &sshconf.Endpoint{Host: "127.0.0.1", Port: 2222, KnownHostsFiles: files, StrictHostKeyChecking: mode}
	hk, err := newHostKeyChecker(ep, func(s string) { notices = append(notices, s) })
	if err != nil {
		t.Fatal(err)
	}
	return hk, &notices
}

func (hk *hostKeyChecker) verify(key ssh.PublicKey, p Prompter) error {
	return hk.check(p)("ignored:22", addr, key)
}

func TestRecordedKeyIsAcceptedInBracketedPortForm(t *testing.T) {
	key := newEd25519(t)
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, key)))
	if err := hk.verify(key, nil); err != nil {
		t.Fatalf("recorded key refused: %v", err)
	}
}

func TestHashedEntryIsAccepted(t *testing.T) {
	key := newEd25519(t)
	hashed := knownhosts.HashHostname("[127.0.0.1]:2222")
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, knownhosts.Line([]string{hashed}, key)))
	if err := hk.verify(key, nil); err != nil {
		t.Fatalf("hashed entry refused: %v", err)
	}
}

func TestUnknownKeyIsRefusedWithFingerprintAndHowToAdd(t *testing.T) {
	key := newEd25519(t)
	file := knownHostsFile(t, knownhosts.Line([]string{"otherhost"}, newEd25519(t)))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, file)
	err := hk.verify(key, nil)
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
	hk, _ := checkerFor(t, sshconf.HostKeyYes, filepath.Join(t.TempDir(), "absent"))
	if err := hk.verify(newEd25519(t), nil); err == nil {
		t.Fatal("key accepted with no known_hosts at all")
	}
}

func TestChangedKeyIsRefusedAsPossibleAttack(t *testing.T) {
	file := knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, newEd25519(t)))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, file)
	err := hk.verify(newEd25519(t), nil)
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
	hk, _ := checkerFor(t, sshconf.HostKeyYes, file)
	if err := hk.verify(key, nil); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("got %v", err)
	}
}

func TestHandshakeAsksForTheKeyTypeOnRecord(t *testing.T) {
	file := knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, newECDSA(t)))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, file)
	algos := hk.algorithmsFor(addr)
	if len(algos) != 1 || algos[0] != ssh.KeyAlgoECDSA256 {
		t.Fatalf("algorithms %v, want [%s]", algos, ssh.KeyAlgoECDSA256)
	}
	other, _ := checkerFor(t, sshconf.HostKeyYes, file)
	other.ep.Host = "unknown"
	if got := other.algorithmsFor(addr); len(got) != 0 {
		t.Fatalf("unknown host: %v, want the defaults (none)", got)
	}
}

// answers is a Prompter that gives scripted answers and records prompts.
type answers struct {
	replies []string
	asked   []string
}

func (a *answers) Secret(q string) ([]byte, error) {
	s, err := a.Ask(q)
	return []byte(s), err
}

func (a *answers) Ask(q string) (string, error) {
	a.asked = append(a.asked, q)
	if len(a.replies) == 0 {
		return "", errors.New("no more answers")
	}
	r := a.replies[0]
	a.replies = a.replies[1:]
	return r, nil
}

func (a *answers) Say(msg string) { a.asked = append(a.asked, msg) }

func TestAcceptNewRecordsAnUnknownKeyAndStillRefusesAChangedOne(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "known_hosts")
	hk, notices := checkerFor(t, sshconf.HostKeyAcceptNew, file)
	key := newEd25519(t)
	if err := hk.verify(key, nil); err != nil {
		t.Fatalf("accept-new refused a new key: %v", err)
	}
	data, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(data), "[127.0.0.1]:2222 ssh-ed25519 ") {
		t.Fatalf("known_hosts holds %q (%v)", data, err)
	}
	if len(*notices) != 1 || !strings.Contains((*notices)[0], ssh.FingerprintSHA256(key)) {
		t.Errorf("notices: %q", *notices)
	}
	if err := hk.verify(key, nil); err != nil {
		t.Fatalf("recorded key refused on reconnect: %v", err)
	}
	if err := hk.verify(newEd25519(t), nil); err == nil || !strings.Contains(err.Error(), "refusing to reconnect") {
		t.Fatalf("changed key on a reconnect under accept-new: %v", err)
	}
	// The next mount, too.
	hk, _ = checkerFor(t, sshconf.HostKeyAcceptNew, file)
	var he *HostKeyError
	if err := hk.verify(newEd25519(t), nil); !errors.As(err, &he) || !he.Changed {
		t.Fatalf("changed key under accept-new: %v", err)
	}
}

func TestNoAcceptsAnUnknownKeyWithAWarningButNeverAChangedOne(t *testing.T) {
	known := knownHostsFile(t, knownhosts.Line([]string{"[127.0.0.1]:2222"}, newEd25519(t)))
	hk, notices := checkerFor(t, sshconf.HostKeyNo, known)
	var he *HostKeyError
	if err := hk.verify(newEd25519(t), nil); !errors.As(err, &he) || !he.Changed {
		t.Fatalf("changed key under StrictHostKeyChecking=no: %v", err)
	}
	hk, notices = checkerFor(t, sshconf.HostKeyNo, filepath.Join(t.TempDir(), "absent"))
	if err := hk.verify(newEd25519(t), nil); err != nil {
		t.Fatalf("unknown key refused under no: %v", err)
	}
	if len(*notices) != 1 || !strings.Contains((*notices)[0], "UNVERIFIED") {
		t.Errorf("notices: %q", *notices)
	}
	if _, err := os.Stat(hk.ep.KnownHostsFiles[0]); err == nil {
		t.Error("StrictHostKeyChecking=no wrote the key down")
	}
}

func TestAskShowsTheFingerprintAndRecordsTheKeyOnYes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	hk, _ := checkerFor(t, sshconf.HostKeyAsk, file)
	hk.ep.HashKnownHosts = true
	key := newEd25519(t)
	p := &answers{replies: []string{"maybe", "yes"}}
	if err := hk.verify(key, p); err != nil {
		t.Fatalf("refused after yes: %v", err)
	}
	if !strings.Contains(strings.Join(p.asked, "\n"), ssh.FingerprintSHA256(key)) || len(p.asked) != 3 {
		t.Errorf("prompts: %q", p.asked)
	}
	data, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(data), "|1|") {
		t.Errorf("HashKnownHosts: entry not hashed: %q", data)
	}
	if err := hk.verify(key, nil); err != nil {
		t.Fatalf("hashed recorded key refused: %v", err)
	}
}

func TestAskAcceptsTheFingerprintTypedBackAndRefusesNo(t *testing.T) {
	key := newEd25519(t)
	hk, _ := checkerFor(t, sshconf.HostKeyAsk, filepath.Join(t.TempDir(), "known_hosts"))
	if err := hk.verify(key, &answers{replies: []string{"no"}}); err == nil || !strings.Contains(err.Error(), "not accepted") {
		t.Fatalf("after no: %v", err)
	}
	if err := hk.verify(key, &answers{replies: []string{ssh.FingerprintSHA256(key)}}); err != nil {
		t.Fatalf("after typing the fingerprint: %v", err)
	}
}

func TestAskWithNobodyToAskRefuses(t *testing.T) {
	hk, _ := checkerFor(t, sshconf.HostKeyAsk, filepath.Join(t.TempDir(), "known_hosts"))
	var he *HostKeyError
	if err := hk.verify(newEd25519(t), nil); !errors.As(err, &he) {
		t.Fatalf("got %v", err)
	}
}

func TestHostKeyAliasIsLookedUpWithoutThePort(t *testing.T) {
	key := newEd25519(t)
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, knownhosts.Line([]string{"fileserver"}, key)))
	hk.ep.HostKeyAlias = "fileserver"
	if err := hk.verify(key, nil); err != nil {
		t.Fatalf("alias entry refused: %v", err)
	}
}

func TestCertificateSignedByACertAuthorityIsAccepted(t *testing.T) {
	_, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	ca, _ := ssh.NewSignerFromKey(caPriv)
	hostKey := newEd25519(t)
	cert := &ssh.Certificate{Key: hostKey, CertType: ssh.HostCert, ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	line := "@cert-authority [127.0.0.1]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, line))
	if err := hk.verify(cert, nil); err != nil {
		t.Fatalf("certificate refused: %v", err)
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	forged := &ssh.Certificate{Key: hostKey, CertType: ssh.HostCert, ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity}
	forged.SignCert(rand.Reader, other)
	if err := hk.verify(forged, nil); err == nil {
		t.Fatal("certificate from another authority accepted")
	}
}

func TestHandshakeAsksForCertificatesWhenAnAuthorityCoversTheHost(t *testing.T) {
	ca := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(newEd25519(t))))
	hk, _ := checkerFor(t, sshconf.HostKeyYes, knownHostsFile(t, "@cert-authority [127.0.0.1]:2222 "+ca))
	algos := hk.algorithmsFor(addr)
	if len(algos) == 0 || algos[0] != ssh.CertAlgoED25519v01 {
		t.Fatalf("algorithms %v: certificates should come first", algos)
	}
	// A plain key the authority did not sign is unknown, not "changed".
	var he *HostKeyError
	if err := hk.verify(newEd25519(t), nil); !errors.As(err, &he) || he.Changed {
		t.Fatalf("got %v", err)
	}
}
