//go:build linux

package integration

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pkg/sftp's own server as a program (testdata/pkgsftpd): a server that
// is not OpenSSH, reached over plain TCP (-o directport), which a test
// can stop and start again on the same port.

var (
	pkgsftpdOnce   sync.Once
	pkgsftpdBinary string
	pkgsftpdErr    error
)

// buildPkgsftpd builds testdata/pkgsftpd once per run.
func buildPkgsftpd(t *testing.T) string {
	t.Helper()
	pkgsftpdOnce.Do(func() {
		pkgsftpdBinary = filepath.Join(workDir, "pkgsftpd")
		out, err := exec.Command("go", "build", "-o", pkgsftpdBinary, "./testdata/pkgsftpd").CombinedOutput()
		if err != nil {
			pkgsftpdErr = fmt.Errorf("go build ./testdata/pkgsftpd: %v: %s", err, out)
		}
	})
	if pkgsftpdErr != nil {
		t.Fatal(pkgsftpdErr)
	}
	return pkgsftpdBinary
}

// pkgsftpd is a running testdata/pkgsftpd serving root.
type pkgsftpd struct {
	t    *testing.T
	root string
	args []string // pkgsftpd's flags past -listen and -root
	addr string   // where it listens: the first run's port, kept by restart
	cmd  *exec.Cmd
	runs int // how many times it was started
}

// startPkgsftpd starts pkgsftpd on a free loopback port serving root,
// with extra flags (-readonly); the test's end stops it.
func startPkgsftpd(t *testing.T, root string, extra ...string) *pkgsftpd {
	t.Helper()
	p := &pkgsftpd{t: t, root: root, args: extra, addr: "127.0.0.1:0"}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *pkgsftpd) start() {
	p.t.Helper()
	cmd := exec.Command(buildPkgsftpd(p.t), append([]string{"-listen", p.addr, "-root", p.root}, p.args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(l), "listening on ")
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			p.t.Fatalf("pkgsftpd -listen %s: %q %s", p.addr, l, stderr.String())
		}
		p.addr = addr
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		p.t.Fatalf("pkgsftpd said nothing in 30 s: %s", stderr.String())
	}
	p.cmd = cmd
	p.runs++
}

// port is the TCP port it listens on.
func (p *pkgsftpd) port() int {
	_, port, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(port)
	return n
}

// stop kills it: every connection ends with it.
func (p *pkgsftpd) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p.cmd = nil
}

// restart kills it and starts it again on the same port.
func (p *pkgsftpd) restart() {
	p.t.Helper()
	p.stop()
	p.start()
}
