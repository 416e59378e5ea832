package transport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ProxyCommand (ssh_config(5)): the first hop's connection is a command's
// stdin and stdout instead of a TCP socket, as with `nc %h %p`, AWS SSM,
// GCP IAP, cloudflared or Teleport. It runs as ssh runs it: the user's
// $SHELL (else /bin/sh) with -c "exec COMMAND", tokens already expanded
// (Resolve). It is run again for every connection (a reconnect, the
// second connection for large files), is bounded by ConnectTimeout like a
// TCP connect (the guard closes it), and is ended with its whole process
// group when the connection closes, so nothing outlives the mount.

// proxyConn is a net.Conn over a running ProxyCommand.
type proxyConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	addr   string // host:port it stands for: knownhosts parses RemoteAddr
	// ownGroup: the command leads a process group, which Close ends.
	ownGroup bool

	stderr *tailWriter // its last lines, for the error when it ends early

	signaled atomic.Bool // Close had to end it

	closeOnce sync.Once
	exited    chan struct{} // closed once Wait returned
	waitErr   error
}

// startProxyCommand runs command, which reaches addr, with its stderr
// going, line by line, to say (the user's stderr while mounting, the -d
// log after).
func startProxyCommand(command, addr string, say func(string)) (*proxyConn, error) {
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	p, err := startCommandConn(exec.Command(shell, "-c", "exec "+command), addr, true, say)
	if err != nil {
		return nil, fmt.Errorf("ProxyCommand %q: %w", command, err)
	}
	return p, nil
}

// startCommandConn starts cmd with its stdin and stdout as the
// connection. ownGroup puts it in a process group of its own: closing
// ends it and whatever it started (an aws or gcloud wrapper runs helpers
// of its own); without, it stays in ours, the terminal's foreground
// group, where it may ask on /dev/tty without being stopped (SIGTTIN),
// and closing ends it alone. endWithParent ends it should this process
// be killed without closing anything.
func startCommandConn(cmd *exec.Cmd, addr string, ownGroup bool, say func(string)) (*proxyConn, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: ownGroup}
	endWithParent(cmd.SysProcAttr)
	p := &proxyConn{cmd: cmd, addr: addr, ownGroup: ownGroup, exited: make(chan struct{}), stderr: &tailWriter{say: say}}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if p.stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *proxyConn) Read(b []byte) (int, error) { return p.stdout.Read(b) }

func (p *proxyConn) Write(b []byte) (int, error) { return p.stdin.Write(b) }

// Close ends the command and everything in its process group. A command
// that is ending by itself (its output closed: the handshake failed on
// it) is given a moment first, so that ended can tell its exit status.
func (p *proxyConn) Close() error {
	p.closeOnce.Do(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
		case <-time.After(100 * time.Millisecond):
		}
		select {
		case <-p.exited:
		default:
			p.signaled.Store(true)
		}
		target := p.cmd.Process.Pid
		if p.ownGroup {
			target = -target
		}
		syscall.Kill(target, syscall.SIGTERM)
		go func() {
			select {
			case <-p.exited:
				if !p.ownGroup {
					return
				}
			case <-time.After(5 * time.Second):
			}
			// What the command started may outlive it.
			syscall.Kill(target, syscall.SIGKILL)
		}()
	})
	return nil
}

// ended describes how the command ended, if it ended by itself: then
// that is why a handshake that failed on the stream failed (callers ask
// only then), not the server.
func (p *proxyConn) ended() (string, bool) {
	select {
	case <-p.exited:
	case <-time.After(time.Second):
		return "", false
	}
	if p.signaled.Load() {
		return "", false
	}
	how := "exited"
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		how = fmt.Sprintf("exited with status %d", ee.ExitCode())
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			how = "was killed by " + ws.Signal().String()
		}
	}
	if last := p.stderr.last(); last != "" {
		how += ": " + last
	}
	return how, true
}

func (p *proxyConn) LocalAddr() net.Addr                { return proxyAddr("localhost:0") }
func (p *proxyConn) RemoteAddr() net.Addr               { return proxyAddr(p.addr) }
func (p *proxyConn) SetDeadline(t time.Time) error      { return nil }
func (p *proxyConn) SetReadDeadline(t time.Time) error  { return nil }
func (p *proxyConn) SetWriteDeadline(t time.Time) error { return nil }

// proxyAddr is the address a command's connection stands for.
type proxyAddr string

func (a proxyAddr) Network() string { return "proxycommand" }
func (a proxyAddr) String() string  { return string(a) }

// tailWriter passes each line written to say and keeps the last one.
type tailWriter struct {
	say func(string)

	mu      sync.Mutex
	partial bytes.Buffer
	lastOne string
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial.Write(b)
	for {
		line, err := w.partial.ReadString('\n')
		if err != nil { // no newline yet: keep it for the next write
			w.partial.Reset()
			w.partial.WriteString(line)
			return len(b), nil
		}
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			w.lastOne = line
			if w.say != nil {
				w.say(line)
			}
		}
	}
}

func (w *tailWriter) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rest := strings.TrimSpace(w.partial.String()); rest != "" {
		return rest
	}
	return w.lastOne
}
