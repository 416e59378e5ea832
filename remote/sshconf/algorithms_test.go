package sshconf

import (
	"slices"
	"strings"
	"testing"
)

func TestAlgorithmListsResolveAsOpenSSHResolvesThem(t *testing.T) {
	def, _, err := hostKeyKind.resolve("")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(def, "ssh-rsa") || !slices.Contains(def, "rsa-sha2-512") || def[0] != "ssh-ed25519-cert-v01@openssh.com" {
		t.Errorf("default host key algorithms %q: OpenSSH 9's order, without SHA-1 ssh-rsa", def)
	}
	plus, _, _ := hostKeyKind.resolve("+ssh-rsa")
	if plus[len(plus)-1] != "ssh-rsa" || len(plus) != len(def)+1 {
		t.Errorf("+ssh-rsa: %q", plus)
	}
	minus, _, _ := hostKeyKind.resolve("-*-cert-v01@openssh.com,ecdsa-*")
	for _, a := range minus {
		if strings.Contains(a, "cert") || strings.HasPrefix(a, "ecdsa") {
			t.Errorf("-list kept %s: %q", a, minus)
		}
	}
	caret, _, _ := kexKind.resolve("^diffie-hellman-group14-sha256")
	if caret[0] != "diffie-hellman-group14-sha256" || slices.Index(caret[1:], "diffie-hellman-group14-sha256") >= 0 {
		t.Errorf("^list: %q", caret)
	}
	exact, lacking, err := cipherKind.resolve("aes256-ctr,aes128-cbc")
	if err != nil || !slices.Equal(exact, []string{"aes256-ctr", "aes128-cbc"}) || len(lacking) != 0 {
		t.Errorf("an exact list with an insecure cipher asked for by name: %q %q %v", exact, lacking, err)
	}
	macs, lacking, err := macKind.resolve("umac-128@openssh.com,hmac-sha2-256")
	if err != nil || !slices.Equal(macs, []string{"hmac-sha2-256"}) || !slices.Equal(lacking, []string{"umac-128@openssh.com"}) {
		t.Errorf("a MAC Go lacks is left out and reported: %q %q %v", macs, lacking, err)
	}
	if _, _, err := macKind.resolve("umac-128@openssh.com"); err == nil {
		t.Error("a list left empty was accepted")
	}
	if _, _, err := cipherKind.resolve("+aes512-ctr"); err == nil || !strings.Contains(err.Error(), "aes512-ctr") {
		t.Errorf("a name OpenSSH does not know: %v", err)
	}
	defKex, _, _ := kexKind.resolve("")
	for _, a := range defKex {
		if strings.HasSuffix(a, "-sha1") {
			t.Errorf("default key exchange offers %s", a)
		}
	}
}

func TestSettingsResolveAlgorithmsFromFilesAndTheCommandLine(t *testing.T) {
	over := Overrides{}
	over.Set("Ciphers", "aes256-gcm@openssh.com")
	e := resolve(t, "Host old\n  HostKeyAlgorithms +ssh-rsa\n  PubkeyAcceptedKeyTypes +ssh-rsa\n  MACs hmac-md5,hmac-sha2-512\n", "old", over)
	if !slices.Contains(e.Algorithms.HostKeys, "ssh-rsa") || !slices.Contains(e.Algorithms.PublicKeyAuths, "ssh-rsa") {
		t.Errorf("host keys %q, pubkey %q: want ssh-rsa added", e.Algorithms.HostKeys, e.Algorithms.PublicKeyAuths)
	}
	if !slices.Equal(e.Algorithms.Ciphers, []string{"aes256-gcm@openssh.com"}) || !slices.Equal(e.Algorithms.MACs, []string{"hmac-sha2-512"}) {
		t.Errorf("ciphers %q, MACs %q", e.Algorithms.Ciphers, e.Algorithms.MACs)
	}
	if len(e.Notices) != 1 || !strings.Contains(e.Notices[0], "hmac-md5") {
		t.Errorf("notices %q: want one naming the MAC left out", e.Notices)
	}
	c, _ := LoadSSHConfig(configFile(t, "Host x\n  KexAlgorithms +no-such-kex\n"), "/home/me")
	if _, err := c.Resolve("x", nil, testDefaults); err == nil || !strings.Contains(err.Error(), "no-such-kex") {
		t.Errorf("an unknown algorithm in the file: %v", err)
	}
}
