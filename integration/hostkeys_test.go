//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hostFingerprint is the server's key fingerprint as ssh-keygen shows it.
func hostFingerprint(t *testing.T, s *sshServer) string {
	t.Helper()
	return strings.Fields(sh(t, "/", "ssh-keygen -lf "+s.hostKey()+".pub"))[1]
}

// keyArgs are the main server's port and key with a known_hosts of the
// test's choosing and more options.
func keyArgs(known, opts string) []string {
	o := "IdentityFile=" + server.userKey + ",UserKnownHostsFile=" + known
	if opts != "" {
		o += "," + opts
	}
	return []string{"-p", strconv.Itoa(server.port), "-o", o}
}

// recorded checks, with ssh-keygen -F, that known holds the server's key
// (hashed or not: Debian's ssh_config says HashKnownHosts yes).
func recorded(t *testing.T, known string, s *sshServer) {
	t.Helper()
	out, err := shErr("/", "ssh-keygen -F '[127.0.0.1]:"+strconv.Itoa(s.port)+"' -f "+known)
	if err != nil || !strings.Contains(out, strings.Fields(s.hostKeyPub)[1]) {
		t.Fatalf("known_hosts lacks the server's key (%v): %q", err, readFile(t, known))
	}
}

func TestAcceptNewRecordsAnUnknownKeyThenTrustsOnlyIt(t *testing.T) {
	needServer(t)
	known := filepath.Join(isolatedHome(t), ".ssh", "known_hosts")
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	r := runBinary(t, home(t), append([]string{remoteSpec(served), mnt}, keyArgs(known, "StrictHostKeyChecking=accept-new")...)...)
	mountedBy(t, r, mnt, served, "root")
	if !strings.Contains(r.stderr, "permanently added") || !strings.Contains(r.stderr, hostFingerprint(t, server)) {
		t.Errorf("no notice of the added key: %q", r.stderr)
	}
	recorded(t, known, server)
	// The recorded key is now what the default policy checks against.
	served2, mnt2 := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, home(t), append([]string{remoteSpec(served2), mnt2}, keyArgs(known, "")...)...), mnt2, served2, "root")
}

func TestAskOnTheTerminalShowsTheFingerprintAndRecordsTheKeyOnYes(t *testing.T) {
	needServer(t)
	known := filepath.Join(isolatedHome(t), ".ssh", "known_hosts")
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	tm := startOnTerminal(t, home(t), append([]string{remoteSpec(served), mnt}, keyArgs(known, "")...)...)
	tm.expect(t, hostFingerprint(t, server))
	tm.expect(t, "(yes/no/[fingerprint])? ")
	tm.send(t, "yes\r")
	mountedBy(t, result{code: tm.exit(t), stderr: tm.out.String()}, mnt, served, "root")
	recorded(t, known, server)
}

func TestAskAnsweredNoRefusesAndRecordsNothing(t *testing.T) {
	needServer(t)
	known := filepath.Join(isolatedHome(t), ".ssh", "known_hosts")
	mnt := newMountpoint(t)
	tm := startOnTerminal(t, home(t), append([]string{remoteSpec(newServedDir(t, "root")), mnt}, keyArgs(known, "")...)...)
	tm.expect(t, "(yes/no/[fingerprint])? ")
	tm.send(t, "no\r")
	if code := tm.exit(t); code != 5 {
		t.Fatalf("exit %d, want 5; terminal: %q", code, tm.out.String())
	}
	if _, err := os.Stat(known); err == nil || isMounted(mnt) {
		t.Fatal("the key was recorded or the mount made after answering no")
	}
}

func TestStrictNoWarnsOnEveryMountAndRecordsNothing(t *testing.T) {
	needServer(t)
	known := filepath.Join(isolatedHome(t), ".ssh", "known_hosts")
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	r := runBinary(t, home(t), append([]string{remoteSpec(served), mnt}, keyArgs(known, "StrictHostKeyChecking=no")...)...)
	mountedBy(t, r, mnt, served, "root")
	if !strings.Contains(r.stderr, "UNVERIFIED") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("want one warning line, got %q", r.stderr)
	}
	if _, err := os.Stat(known); err == nil {
		t.Fatal("StrictHostKeyChecking=no recorded the key")
	}
}

func TestChangedKeyIsRefusedWhateverTheMode(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f other")
	known := filepath.Join(dir, "known_hosts")
	writeFile(t, known, "[127.0.0.1]:"+strconv.Itoa(server.port)+" "+readFile(t, filepath.Join(dir, "other.pub")), 0644)
	for _, mode := range []string{"yes", "ask", "accept-new", "no"} {
		line := refused(t, 5, home(t), append([]string{remoteSpec(newServedDir(t, "root")), newMountpoint(t)}, keyArgs(known, "StrictHostKeyChecking="+mode)...)...)
		if !strings.Contains(line, "CHANGED") {
			t.Errorf("%s: %s", mode, line)
		}
	}
}

func TestHashedKnownHostsEntryIsAccepted(t *testing.T) {
	needServer(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	sh(t, "/", "cp "+server.knownHosts+" "+known+" && ssh-keygen -q -H -f "+known)
	if strings.Contains(readFile(t, known), "127.0.0.1") {
		t.Fatal("ssh-keygen -H did not hash the entry")
	}
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, home(t), append([]string{remoteSpec(served), mnt}, keyArgs(known, "")...)...), mnt, served, "root")
}

func TestHostCertificateFromAKnownAuthorityIsAccepted(t *testing.T) {
	a := needAuthServer(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, "@cert-authority [127.0.0.1]:"+strconv.Itoa(a.port)+" "+a.hostCA+"\n", 0644)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	r := runBinary(t, home(t), remoteSpec(served), mnt, "-p", strconv.Itoa(a.port), "-o", "IdentityFile="+a.userKey+",UserKnownHostsFile="+known)
	mountedBy(t, r, mnt, served, "root")
}

func TestHostKeyAliasIsLookedUpInsteadOfTheAddress(t *testing.T) {
	needServer(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, "fileserver "+server.hostKeyPub+"\n", 0644)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	r := runBinary(t, home(t), append([]string{remoteSpec(served), mnt}, keyArgs(known, "HostKeyAlias=fileserver")...)...)
	mountedBy(t, r, mnt, served, "root")
	// Without the alias the same file knows nothing of 127.0.0.1.
	refused(t, 5, home(t), append([]string{remoteSpec(newServedDir(t, "root")), newMountpoint(t)}, keyArgs(known, "")...)...)
}
