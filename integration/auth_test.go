//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// authArgs are the options for the password/certificate server.
func authArgs(a *authSrv, opts string) []string {
	o := "UserKnownHostsFile=" + a.knownHosts
	if opts != "" {
		o += "," + opts
	}
	return []string{"-p", strconv.Itoa(a.port), "-o", o}
}

// mountedBy checks a successful start and that a file written through the
// mount lands on the server, owned by the remote user it logged in as.
func mountedBy(t *testing.T, r result, mnt, served, owner string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, mnt)
	writeFile(t, filepath.Join(mnt, "hello"), "logged in", 0644)
	if got := readFile(t, filepath.Join(served, "hello")); got != "logged in" {
		t.Fatalf("server has %q", got)
	}
	if got := strings.TrimSpace(sh(t, "/", "stat -c %U "+filepath.Join(served, "hello"))); got != owner {
		t.Fatalf("file owned by %s on the server, want %s", got, owner)
	}
}

// sshdLogged waits for sshd's log to say how the login was accepted.
func sshdLogged(t *testing.T, s *sshServer, want string) {
	t.Helper()
	if !waitFor(5e9, func() bool { data, _ := os.ReadFile(s.log); return strings.Contains(string(data), want) }) {
		t.Fatalf("sshd log does not say %q", want)
	}
}

// mountWithPasswordOnStdin mounts a fresh directory of passwordUser with
// the password on stdin and the given options; it returns the mountpoint
// and the served directory once a write through it reached the server.
func mountWithPasswordOnStdin(t *testing.T, a *authSrv, opts string) (mnt, served string) {
	t.Helper()
	served, mnt = passwordUserDir(t), newMountpoint(t)
	r := runBinaryWithInput(t, home(t), a.password+"\n", append([]string{passwordUser + "@127.0.0.1:" + served, mnt},
		authArgs(a, "password_stdin,"+opts)...)...)
	mountedBy(t, r, mnt, served, passwordUser)
	return mnt, served
}

func TestPasswordFromStdinLogsInWithThePasswordMethod(t *testing.T) {
	a := needAuthServer(t)
	mountWithPasswordOnStdin(t, a, "KbdInteractiveAuthentication=no")
	sshdLogged(t, a.sshServer, "Accepted password for "+passwordUser)
}

func TestKeyboardInteractiveIsAnsweredWithThePasswordFromStdin(t *testing.T) {
	a := needAuthServer(t)
	mountWithPasswordOnStdin(t, a, "PasswordAuthentication=no")
	sshdLogged(t, a.sshServer, "Accepted keyboard-interactive/pam for "+passwordUser)
}

func TestWrongPasswordIsAnAuthFailureThatDoesNotRepeatIt(t *testing.T) {
	a := needAuthServer(t)
	wrong := randomSecret()
	served, mnt := passwordUserDir(t), newMountpoint(t)
	r := runBinaryWithInput(t, home(t), wrong+"\n", append([]string{passwordUser + "@127.0.0.1:" + served, mnt}, authArgs(a, "password_stdin")...)...)
	if r.code != 6 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "authentication") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, wrong) {
		t.Fatalf("the password is in the message: %q", r.stderr)
	}
	if isMounted(mnt) {
		t.Fatal("mounted after a failed login")
	}
}

func TestPasswordTypedAtTheTerminalIsNotEchoed(t *testing.T) {
	a := needAuthServer(t)
	served, mnt := passwordUserDir(t), newMountpoint(t)
	tm := startOnTerminal(t, home(t), append([]string{passwordUser + "@127.0.0.1:" + served, mnt}, authArgs(a, "KbdInteractiveAuthentication=no")...)...)
	tm.expect(t, passwordUser+"@127.0.0.1's password: ")
	tm.send(t, a.password+"\r")
	code := tm.exit(t)
	mountedBy(t, result{code: code, stderr: tm.out.String()}, mnt, served, passwordUser)
	if strings.Contains(tm.out.String(), a.password) {
		t.Fatalf("the password was echoed: %q", tm.out.String())
	}
}

func TestKeyboardInteractiveQuestionsAreAskedAtTheTerminal(t *testing.T) {
	a := needAuthServer(t)
	served, mnt := passwordUserDir(t), newMountpoint(t)
	tm := startOnTerminal(t, home(t), append([]string{passwordUser + "@127.0.0.1:" + served, mnt}, authArgs(a, "PasswordAuthentication=no")...)...)
	tm.expect(t, "Password:")
	tm.send(t, a.password+"\r")
	mountedBy(t, result{code: tm.exit(t), stderr: tm.out.String()}, mnt, served, passwordUser)
	sshdLogged(t, a.sshServer, "Accepted keyboard-interactive/pam for "+passwordUser)
}

func TestCtrlCAtAPasswordPromptLeavesNothingBehind(t *testing.T) {
	a := needAuthServer(t)
	for _, mode := range []string{"background", "foreground"} {
		t.Run(mode, func(t *testing.T) {
			served, mnt := passwordUserDir(t), newMountpoint(t)
			args := append([]string{passwordUser + "@127.0.0.1:" + served, mnt}, authArgs(a, "KbdInteractiveAuthentication=no")...)
			if mode == "foreground" {
				args = append(args, "-f")
			}
			tm := startOnTerminal(t, home(t), args...)
			tm.expect(t, "password: ")
			tm.send(t, "\x03")
			if code := tm.exit(t); code != 130 {
				t.Fatalf("exit %d after Ctrl-C, want 130; terminal: %q", code, tm.out.String())
			}
			if isMounted(mnt) || !waitFor(5e9, func() bool { return len(processesServing(mnt)) == 0 }) {
				t.Fatalf("left behind: mounted %v, processes %v", isMounted(mnt), processesServing(mnt))
			}
		})
	}
}

// encryptedKey makes a passphrase-protected key the main server accepts.
func encryptedKey(t *testing.T) (key, passphrase string) {
	t.Helper()
	dir := t.TempDir()
	passphrase = randomSecret()
	key = filepath.Join(dir, "locked")
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '"+passphrase+"' -f locked")
	authorizeKey(t, server, key+".pub")
	return key, passphrase
}

// authorizeKey adds a public key to the server's authorized_keys for the
// rest of the run.
func authorizeKey(t *testing.T, s *sshServer, pub string) {
	t.Helper()
	sh(t, "/", "cat "+pub+" >> "+filepath.Join(s.dir, "authorized_keys"))
}

func TestEncryptedKeyAsksForItsPassphraseThroughAskpass(t *testing.T) {
	needServer(t)
	key, passphrase := encryptedKey(t)
	dir := t.TempDir()
	askpass := filepath.Join(dir, "askpass")
	writeFile(t, askpass, "#!/bin/sh\necho \"$1\" >> "+dir+"/asked\necho '"+passphrase+"'\n", 0755)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	r := runBinary(t, append(home(t), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force"), remoteSpec(served), mnt,
		"-p", strconv.Itoa(server.port), "-o", "IdentityFile="+key+",UserKnownHostsFile="+server.knownHosts)
	mountedBy(t, r, mnt, served, "root")
	if asked := readFile(t, filepath.Join(dir, "asked")); !strings.Contains(asked, "passphrase for key '"+key+"'") {
		t.Fatalf("askpass was asked %q", asked)
	}
}

func TestEncryptedKeyAsksForItsPassphraseAtTheTerminal(t *testing.T) {
	needServer(t)
	key, passphrase := encryptedKey(t)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	tm := startOnTerminal(t, home(t), remoteSpec(served), mnt,
		"-p", strconv.Itoa(server.port), "-o", "IdentityFile="+key+",UserKnownHostsFile="+server.knownHosts)
	tm.expect(t, "Enter passphrase for key '"+key+"': ")
	tm.send(t, passphrase+"\r")
	mountedBy(t, result{code: tm.exit(t), stderr: tm.out.String()}, mnt, served, "root")
	if strings.Contains(tm.out.String(), passphrase) {
		t.Fatal("the passphrase was echoed")
	}
}

func TestEncryptedKeyWithNobodyToAskIsNotOffered(t *testing.T) {
	needServer(t)
	key, _ := encryptedKey(t)
	line := refused(t, 6, home(t), remoteSpec(newServedDir(t, "root")), newMountpoint(t),
		"-p", strconv.Itoa(server.port), "-o", "IdentityFile="+key+",UserKnownHostsFile="+server.knownHosts)
	if !strings.Contains(line, "authentication") {
		t.Fatalf("message: %s", line)
	}
}

func TestCertificateIsOfferedWithItsKey(t *testing.T) {
	a := needAuthServer(t)
	dir := t.TempDir()
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f certified")
	key := filepath.Join(dir, "certified")
	args := func(served string) []string {
		return append([]string{remoteSpec(served), newMountpoint(t)}, authArgs(a, "IdentityFile="+key)...)
	}
	// The key alone is not in authorized_keys: refused.
	refused(t, 6, home(t), args(newServedDir(t, "root"))...)
	sh(t, dir, "ssh-keygen -q -s "+a.userCA+" -I test-user -n root certified.pub")
	served := newServedDir(t, "root")
	as := args(served)
	mountedBy(t, runBinary(t, home(t), as...), as[1], served, "root")
}

func TestReconnectReusesThePasswordOnlyWhenAskedToKeepIt(t *testing.T) {
	a := needAuthServer(t)
	kept, keptServed := mountWithPasswordOnStdin(t, a, "timeout=10,keep_password")
	wiped, _ := mountWithPasswordOnStdin(t, a, "timeout=10,cache=no")
	if err := a.restart(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(kept, "after-restart"), "reconnected", 0644)
	if got := readFile(t, filepath.Join(keptServed, "after-restart")); got != "reconnected" {
		t.Fatalf("server has %q", got)
	}
	// Without keep_password the password is gone: the reconnect cannot
	// log in, and the application is told so instead of waiting.
	start := time.Now()
	if _, err := os.Stat(filepath.Join(wiped, "hello")); err == nil {
		t.Fatal("stat succeeded although the mount cannot log in again")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("the failing stat took %v", took)
	}
}
