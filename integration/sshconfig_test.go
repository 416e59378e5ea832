//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// homeWithConfig makes an isolated HOME whose ~/.ssh/config is config;
// "KNOWN" in it stands for a known_hosts file with both test servers.
func homeWithConfig(t *testing.T, config string) (env []string, home string) {
	t.Helper()
	home = isolatedHome(t)
	known := filepath.Join(home, ".ssh", "known_hosts_tests")
	text := readFile(t, server.knownHosts)
	if authServer != nil {
		text += readFile(t, authServer.knownHosts)
	}
	writeFile(t, known, text, 0644)
	writeFile(t, filepath.Join(home, ".ssh", "config"), strings.ReplaceAll(config, "KNOWN", known), 0600)
	return []string{"HOME=" + home}, home
}

// mainServerBlock is an ssh_config Host block reaching the main server.
func mainServerBlock(alias string) string {
	return fmt.Sprintf(`Host %s
    HostName 127.0.0.1
    Port %d
    User root
    IdentityFile %s
    UserKnownHostsFile KNOWN
`, alias, server.port, server.userKey)
}

func TestHostAliasFromSSHConfigIsAllAMountNeeds(t *testing.T) {
	needServer(t)
	env, _ := homeWithConfig(t, mainServerBlock("files"))
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "files:"+served, mnt), mnt, served, "root")
}

func TestCommandLineWinsOverSSHConfig(t *testing.T) {
	needServer(t)
	closed, _ := freePort()
	env, _ := homeWithConfig(t, strings.Replace(mainServerBlock("files"), "Port "+strconv.Itoa(server.port), "Port "+strconv.Itoa(closed), 1))
	refused(t, 4, env, "files:/tmp", newMountpoint(t))
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "files:"+served, mnt, "-p", strconv.Itoa(server.port)), mnt, served, "root")
}

func TestDashFReadsThatFileInsteadOfTheUsersConfig(t *testing.T) {
	needServer(t)
	env, home := homeWithConfig(t, "Host files\n    Port 1\n")
	other := filepath.Join(home, "other_config")
	known := filepath.Join(home, ".ssh", "known_hosts_tests")
	writeFile(t, other, strings.ReplaceAll(mainServerBlock("files"), "KNOWN", known), 0600)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "files:"+served, mnt, "-F", other), mnt, served, "root")
}

func TestIncludePatternsAndTokensInSSHConfigAreFollowed(t *testing.T) {
	needServer(t)
	env, home := homeWithConfig(t, "")
	sh(t, "/", "cp "+server.userKey+" "+home+"/.ssh/key_root")
	included := filepath.Join(home, "included.conf")
	writeFile(t, included, fmt.Sprintf(`Host file*
    HostName 127.0.0.1
    Port %d
    IdentityFile %%d/.ssh/key_%%r
    UserKnownHostsFile ~/.ssh/known_hosts_tests
Host *
    User root
`, server.port), 0600)
	writeFile(t, filepath.Join(home, ".ssh", "config"), "Include "+included+"\n", 0600)
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "fileserver:"+served, mnt), mnt, served, "root")
}

func TestProxyJumpReachesTheServerThroughTheJumpHost(t *testing.T) {
	a := needAuthServer(t)
	env, _ := homeWithConfig(t, mainServerBlock("target")+"    ProxyJump jumphost\n"+fmt.Sprintf(`Host jumphost
    HostName 127.0.0.1
    Port %d
    User root
    IdentityFile %s
    UserKnownHostsFile KNOWN
`, a.port, a.userKey))
	served, mnt := newServedDir(t, "root"), newMountpoint(t)
	mountedBy(t, runBinary(t, env, "target:"+served, mnt), mnt, served, "root")
	sshdLogged(t, a.sshServer, fmt.Sprintf("target 127.0.0.1 port %d", server.port))
}

func TestProxyJumpHostIsVerifiedLikeTheTarget(t *testing.T) {
	a := needAuthServer(t)
	env, home := homeWithConfig(t, mainServerBlock("target")+fmt.Sprintf("    ProxyJump root@127.0.0.1:%d\n", a.port))
	// Only the target's key is known: the jump host's is not.
	writeFile(t, filepath.Join(home, ".ssh", "known_hosts_tests"), readFile(t, server.knownHosts), 0644)
	line := refused(t, 5, env, "target:/tmp", newMountpoint(t))
	if !strings.Contains(line, strconv.Itoa(a.port)) || !strings.Contains(line, "unknown") {
		t.Fatalf("message should name the jump host: %s", line)
	}
	if _, err := os.Stat(filepath.Join(home, ".ssh", "known_hosts")); err == nil {
		t.Fatal("a known_hosts file was written")
	}
}
