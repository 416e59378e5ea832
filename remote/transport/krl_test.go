package transport

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// keygen runs ssh-keygen in dir, skipping without it.
func keygen(t *testing.T, dir string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen is installed in CI")
		}
		t.Skip("no ssh-keygen")
	}
	cmd := exec.Command("ssh-keygen", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %v: %v: %s", args, err, out)
	}
}

func readPub(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	k := readPublicKey(path)
	if k == nil {
		t.Fatalf("cannot read %s", path)
	}
	return k
}

// KRLs made by ssh-keygen -k revoke what they list, by key, by hash, by
// certificate serial or key ID, and a key's CA revokes its certificates.
func TestKRLFromSSHKeygenRevokesWhatItLists(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"host", "other", "ca", "hostb"} {
		keygen(t, dir, "-q", "-t", "ed25519", "-N", "", "-f", k)
	}
	keygen(t, dir, "-q", "-s", "ca", "-I", "web-1", "-z", "7", "-h", "-n", "h", "host.pub")
	keygen(t, dir, "-q", "-s", "ca", "-I", "web-2", "-z", "9", "-h", "-n", "h", "hostb.pub")
	host, other, cert, certb := readPub(t, filepath.Join(dir, "host.pub")), readPub(t, filepath.Join(dir, "other.pub")),
		readPub(t, filepath.Join(dir, "host-cert.pub")), readPub(t, filepath.Join(dir, "hostb-cert.pub"))
	sha256fp := strings.Fields(string(mustRun(t, dir, "ssh-keygen", "-lf", "host.pub")))[1]
	for name, c := range map[string]struct {
		spec, ca      string
		revoked, kept []ssh.PublicKey
	}{
		"explicit key": {spec: "", revoked: []ssh.PublicKey{host, cert}, kept: []ssh.PublicKey{other, certb}},
		"sha256":       {spec: "hash: " + sha256fp, revoked: []ssh.PublicKey{host}, kept: []ssh.PublicKey{other}},
		"serial":       {spec: "serial: 7", ca: "ca.pub", revoked: []ssh.PublicKey{cert}, kept: []ssh.PublicKey{certb, host}},
		"serial range": {spec: "serial: 5-8", ca: "ca.pub", revoked: []ssh.PublicKey{cert}, kept: []ssh.PublicKey{certb}},
		"key id":       {spec: "id: web-2", ca: "ca.pub", revoked: []ssh.PublicKey{certb}, kept: []ssh.PublicKey{cert}},
		"the CA":       {spec: "", ca: "", revoked: []ssh.PublicKey{cert, certb}, kept: []ssh.PublicKey{host}},
	} {
		krl := filepath.Join(dir, "krl-"+strings.ReplaceAll(name, " ", "-"))
		args := []string{"-q", "-k", "-f", krl}
		switch {
		case name == "explicit key":
			args = append(args, "host.pub")
		case name == "the CA":
			args = append(args, "ca.pub")
		default:
			spec := filepath.Join(dir, "spec")
			os.WriteFile(spec, []byte(c.spec+"\n"), 0644)
			if c.ca != "" {
				args = append(args, "-s", c.ca)
			}
			args = append(args, spec)
		}
		keygen(t, dir, args...)
		for _, k := range c.revoked {
			if err := checkRevokedHostKeys(krl, k); err == nil {
				t.Errorf("%s: %s not revoked", name, k.Type())
			}
		}
		for _, k := range c.kept {
			if err := checkRevokedHostKeys(krl, k); err != nil {
				t.Errorf("%s: %s: %v", name, k.Type(), err)
			}
		}
	}
}

func mustRun(t *testing.T, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A list of public keys works too; a file that is neither, truncated,
// or absent refuses every key.
func TestRevokedHostKeysListAndUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	host, other := newEd25519(t), newEd25519(t)
	list := filepath.Join(dir, "list")
	os.WriteFile(list, append([]byte("# revoked\n"), ssh.MarshalAuthorizedKey(host)...), 0644)
	if err := checkRevokedHostKeys(list, host); err == nil {
		t.Error("listed key not revoked")
	}
	if err := checkRevokedHostKeys(list, other); err != nil {
		t.Errorf("other key: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not a key\n"), 0644)
	truncated := filepath.Join(dir, "truncated")
	os.WriteFile(truncated, append(append([]byte{}, krlMagic...), 0, 0, 0, 1, 0, 0), 0644)
	for _, f := range []string{bad, truncated, filepath.Join(dir, "absent")} {
		if err := checkRevokedHostKeys(f, other); err == nil {
			t.Errorf("%s: key accepted", filepath.Base(f))
		}
	}
}
