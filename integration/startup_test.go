//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// refused runs sftpmount expecting a failure with exit code want, and
// checks the promises every bad start keeps: one line on stderr, nothing
// mounted, no process left behind.
func refused(t *testing.T, want int, env []string, args ...string) string {
	t.Helper()
	needServer(t)
	mnt := args[1]
	r := runBinary(t, env, args...)
	if r.code != want {
		t.Fatalf("exit code %d, want %d; stderr: %q", r.code, want, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Fatalf("stderr should be one line, got %d: %q", len(lines), r.stderr)
	}
	if isMounted(mnt) {
		t.Fatalf("%s is mounted after a failed start", mnt)
	}
	if pids := processesServing(mnt); len(pids) > 0 {
		t.Fatalf("processes left running: %v", pids)
	}
	return lines[0]
}

func home(t *testing.T) []string { return []string{"HOME=" + isolatedHome(t)} }

func remoteSpec(dir string) string { return "root@127.0.0.1:" + dir }

func TestUnknownHostKeyIsRefusedNamingHostTypeAndFingerprint(t *testing.T) {
	needServer(t)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, empty, "", 0644)
	served := newServedDir(t, "root")
	line := refused(t, 5, home(t), remoteSpec(served), newMountpoint(t), "-p", strconv.Itoa(server.port),
		"-o", "IdentityFile="+server.userKey+",UserKnownHostsFile="+empty)
	fp := strings.Fields(sh(t, "/", "ssh-keygen -lf "+filepath.Join(server.dir, "host_ed25519.pub")))[1]
	for _, want := range []string{"[127.0.0.1]:" + strconv.Itoa(server.port), "ssh-ed25519", fp, "unknown", "ssh-keyscan"} {
		if !strings.Contains(line, want) {
			t.Errorf("message lacks %q: %s", want, line)
		}
	}
	if data := readFile(t, empty); data != "" {
		t.Errorf("known_hosts was written to: %q", data)
	}
}

func TestChangedHostKeyIsRefusedAsPossibleAttack(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f other")
	other := strings.TrimSpace(readFile(t, filepath.Join(dir, "other.pub")))
	known := filepath.Join(dir, "known_hosts")
	writeFile(t, known, "[127.0.0.1]:"+strconv.Itoa(server.port)+" "+other+"\n", 0644)
	served := newServedDir(t, "root")
	line := refused(t, 5, home(t), remoteSpec(served), newMountpoint(t), "-p", strconv.Itoa(server.port),
		"-o", "IdentityFile="+server.userKey+",UserKnownHostsFile="+known)
	if !strings.Contains(line, "CHANGED") || !strings.Contains(line, "ssh-keygen -R") {
		t.Errorf("message: %s", line)
	}
}

func TestKeyTheServerDoesNotKnowIsAnAuthFailure(t *testing.T) {
	needServer(t)
	dir := t.TempDir()
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f stranger")
	line := refused(t, 6, home(t), remoteSpec(newServedDir(t, "root")), newMountpoint(t), "-p", strconv.Itoa(server.port),
		"-o", "IdentityFile="+filepath.Join(dir, "stranger")+",UserKnownHostsFile="+server.knownHosts)
	if !strings.Contains(line, "authentication") {
		t.Errorf("message: %s", line)
	}
	if strings.Contains(line, "PRIVATE") {
		t.Errorf("key material in message: %s", line)
	}
}

func TestMissingIdentityFileIsRefusedByName(t *testing.T) {
	needServer(t)
	line := refused(t, 9, home(t), remoteSpec(newServedDir(t, "root")), newMountpoint(t), "-p", strconv.Itoa(server.port),
		"-o", "IdentityFile=/nonexistent/key,UserKnownHostsFile="+server.knownHosts)
	if !strings.Contains(line, "/nonexistent/key") {
		t.Errorf("message: %s", line)
	}
}

// mountWith mounts with a caller-made environment and arguments.
func mountWith(t *testing.T, env []string, spec string, extra ...string) string {
	t.Helper()
	mnt := newMountpoint(t)
	r := runBinary(t, env, append([]string{spec, mnt}, extra...)...)
	if r.code != 0 {
		t.Fatalf("sftpmount exited %d: %s", r.code, r.stderr)
	}
	cleanupMount(t, mnt)
	if !isMounted(mnt) {
		t.Fatalf("%s not mounted", mnt)
	}
	return mnt
}

// startAgent runs a throwaway ssh-agent holding keys and returns its socket.
func startAgent(t *testing.T, keys ...string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	if !waitFor(5e9, func() bool { _, err := os.Stat(sock); return err == nil }) {
		t.Fatal("ssh-agent did not start")
	}
	for _, k := range keys {
		sh(t, "/", "SSH_AUTH_SOCK="+sock+" ssh-add -q "+k)
	}
	return sock
}

func TestAgentKeyLogsIn(t *testing.T) {
	needServer(t)
	sock := startAgent(t, server.userKey)
	served := newServedDir(t, "root")
	writeFile(t, filepath.Join(served, "f"), "via agent", 0644)
	// No IdentityFile, an empty HOME: only the agent holds the key.
	mnt := mountWith(t, append(home(t), "SSH_AUTH_SOCK="+sock), remoteSpec(served),
		"-p", strconv.Itoa(server.port), "-o", "UserKnownHostsFile="+server.knownHosts)
	if got := readFile(t, filepath.Join(mnt, "f")); got != "via agent" {
		t.Fatalf("read %q", got)
	}
}

func TestIdentitiesOnlyLeavesOutAgentKeysThatAreNotConfigured(t *testing.T) {
	needServer(t)
	sock := startAgent(t, server.userKey)
	dir := t.TempDir()
	sh(t, dir, "ssh-keygen -q -t ed25519 -N '' -f stranger")
	env := append(home(t), "SSH_AUTH_SOCK="+sock)
	args := func(opts string) []string {
		return []string{remoteSpec(newServedDir(t, "root")), newMountpoint(t), "-p", strconv.Itoa(server.port),
			"-o", "UserKnownHostsFile=" + server.knownHosts + ",IdentityFile=" + filepath.Join(dir, "stranger") + opts}
	}
	refused(t, 6, env, args(",IdentitiesOnly=yes")...)
	a := args("")
	mountWith(t, env, a[0], a[2:]...)
}

func TestDefaultKeyFileAndKnownHostsInHomeAreUsed(t *testing.T) {
	needServer(t)
	h := isolatedHome(t)
	sh(t, "/", "cp "+server.userKey+" "+h+"/.ssh/id_ed25519 && cp "+server.knownHosts+" "+h+"/.ssh/known_hosts")
	served := newServedDir(t, "root")
	mnt := mountWith(t, []string{"HOME=" + h}, remoteSpec(served), "-p", strconv.Itoa(server.port))
	writeFile(t, filepath.Join(mnt, "f"), "default key", 0644)
	if got := readFile(t, filepath.Join(served, "f")); got != "default key" {
		t.Fatalf("server has %q", got)
	}
}

func TestRelativeAndEmptyDirAreUnderTheRemoteHome(t *testing.T) {
	needServer(t)
	remoteHome := strings.TrimSpace(sh(t, "/", "getent passwd "+testUser+" | cut -d: -f6"))
	rel := "sftpmount-reltest-" + strconv.Itoa(os.Getpid())
	sh(t, "/", "mkdir -p "+remoteHome+"/"+rel+" && chown "+testUser+" "+remoteHome+"/"+rel)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(remoteHome, rel)) })

	mnt := mountWith(t, home(t), testUser+"@127.0.0.1:"+rel, standardArgs()...)
	writeFile(t, filepath.Join(mnt, "f"), "relative", 0644)
	if got := readFile(t, filepath.Join(remoteHome, rel, "f")); got != "relative" {
		t.Fatalf("relative dir: server has %q", got)
	}
	mnt = mountWith(t, home(t), testUser+"@127.0.0.1:", standardArgs()...)
	if got := readFile(t, filepath.Join(mnt, rel, "f")); got != "relative" {
		t.Fatalf("empty dir should be the home: read %q", got)
	}
}

// --version names the commit the binary was built from, as go build
// records it, so a bug report says exactly what ran.
func TestVersionNamesTheCommitItWasBuiltFrom(t *testing.T) {
	head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("the tests run from a git checkout (CI clones one): %v", err)
	}
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v: %s", err, out)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "sftpmount v") || !strings.Contains(line, "revision "+string(head[:12])) || strings.Count(line, "\n") != 0 {
		t.Fatalf("--version printed %q, want one line with the module version and revision %s", line, head[:12])
	}
}
