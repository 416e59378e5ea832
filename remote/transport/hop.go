package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// hop is one SSH server on the way: a ProxyJump host or the target, with
// what it takes to trust it and log in there.
type hop struct {
	ep   *sshconf.Endpoint
	keys *hostKeyChecker
	auth *authenticator
	say  func(string) // a line of the ProxyCommand's stderr
	// notice says a line to the user; noticed says the first login's
	// loginNotices, once (logins of the second connection and of
	// reconnects may run side by side).
	notice  func(string)
	noticed sync.Once
}

func newHops(cfg *Options) ([]*hop, error) {
	var hops []*hop
	for _, ep := range append(append([]*sshconf.Endpoint{}, cfg.Target.Jumps...), cfg.Target) {
		hk, err := newHostKeyChecker(ep, cfg.notice)
		if err != nil {
			return nil, err
		}
		for _, n := range ep.Notices {
			cfg.notice(n)
		}
		if ep.Algorithms.HostKeys == nil {
			// Not from Resolve: OpenSSH's defaults, never Go's.
			ep.Algorithms = sshconf.DefaultAlgorithms()
		}
		hops = append(hops, &hop{ep: ep, keys: hk, auth: newAuthenticator(ep, cfg, ep == cfg.Target), say: func(line string) { cfg.notice("ProxyCommand: " + line) }, notice: cfg.notice})
	}
	return hops, nil
}

// login opens a connection to the hop, directly or through the previous
// hop's SSH connection, checks its host key and authenticates.
func (h *hop) login(g *Guard, via *ssh.Client, p Prompter) (*ssh.Client, error) {
	addr := h.ep.Addr()
	var conn net.Conn
	var proxy *proxyConn
	var err error
	switch {
	case via == nil && h.ep.ProxyCommand != "":
		// Its key exchange is the first progress the guard sees.
		if proxy, err = startProxyCommand(h.ep.ProxyCommand, addr, h.say); err == nil {
			conn = proxy
			g.watch(conn)
		}
	case via == nil:
		conn, err = (&net.Dialer{}).DialContext(g.ctx, "tcp", addr)
		if tc, ok := conn.(*net.TCPConn); ok {
			// Closing drops what is still unsent: a connection is
			// closed when given up (a deadline passed, keepalives went
			// unanswered), and a write still in our send buffer then
			// must not reach the old server later, after the same
			// bytes were written anew on the next connection. A normal
			// close has nothing left to send but sshd's goodbye.
			tc.SetLinger(0)
		}
		if err == nil {
			g.watch(conn)
			g.progress()
		}
	default:
		conn, err = via.DialContext(g.ctx, "tcp", addr)
	}
	if err != nil {
		if g.expired() {
			return nil, g.timeoutError(addr)
		}
		how := ""
		if via != nil {
			how = " through the jump host"
		}
		return nil, &StartupError{Kind: StartupConnect, Err: fmt.Errorf("connect to %s%s: %w", addr, how, unwrapNetError(err))}
	}
	if h.auth.prompter == nil {
		p = nil // the first login is over: reconnects never prompt
	}
	if p != nil {
		p = pausingPrompter{p, g}
	}
	auth, release, err := h.auth.methods(p)
	if err != nil {
		conn.Close()
		return nil, err
	}
	defer release()
	checkKey := h.keys.check(p)
	alg := h.ep.Algorithms
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		Config: ssh.Config{KeyExchanges: alg.KeyExchanges, Ciphers: alg.Ciphers, MACs: alg.MACs, RekeyThreshold: h.ep.RekeyBytes},
		User:   h.ep.User,
		Auth:   auth,
		HostKeyCallback: func(host string, remote net.Addr, key ssh.PublicKey) error {
			g.progress() // the key exchange is done
			return checkKey(host, remote, key)
		},
		HostKeyAlgorithms: preferring(h.keys.algorithmsFor(conn.RemoteAddr()), alg.HostKeys),
		BannerCallback:    func(string) error { g.progress(); return nil },
	})
	if err != nil {
		// NewClientConn has closed conn, and with it a command that
		// was ending by itself.
		how, ended := "", false
		if proxy != nil && !g.expired() && streamFailed(err) {
			how, ended = proxy.ended()
		}
		conn.Close()
		if g.expired() {
			return nil, g.timeoutError(addr)
		}
		if ended {
			return nil, &StartupError{Kind: StartupConnect, Err: fmt.Errorf("ProxyCommand %q %s, before the SSH handshake with %s was done", h.ep.ProxyCommand, how, addr)}
		}
		return nil, classifyHandshakeError(addr, h.ep.User, h.ep.Logins, err)
	}
	g.progress()
	client := ssh.NewClient(cc, chans, reqs)
	h.noticed.Do(func() {
		for _, n := range loginNotices(h.ep) {
			h.notice(n)
		}
	})
	return client, nil
}

// streamFailed reports a handshake that failed because the stream under
// it ended or broke, rather than for a reason the server gave.
func streamFailed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.EPIPE) || strings.Contains(err.Error(), "file already closed")
}

// Guard bounds a connect (every hop, the handshakes and the SFTP
// start) by ConnectTimeout without progress: each step done (TCP connect,
// key exchange, login, SFTP start) restarts the clock, as does a person
// answering a prompt, so a silent server fails fast while a slow but
// answering one (seconds per round trip) still connects. When it fires it
// closes the first TCP connection, which fails everything layered on it;
// a socket deadline could not do that for hops reached through a jump
// host.
type Guard struct {
	ctx     context.Context
	cancel  context.CancelFunc
	timeout time.Duration

	mu      sync.Mutex
	timer   *time.Timer
	stopCtx func() bool
	conn    net.Conn
	fired   bool
	paused  bool // a person is being asked
}

func NewGuard(ctx context.Context, timeout time.Duration) *Guard {
	g := &Guard{timeout: timeout}
	g.ctx, g.cancel = context.WithCancel(ctx)
	g.timer = time.AfterFunc(timeout, g.fire)
	// A reconnect made for a kernel request is also bounded by that
	// request's own deadline.
	stop := context.AfterFunc(ctx, g.fire)
	g.stopCtx = stop
	return g
}

func (g *Guard) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fired = true
	g.cancel()
	if g.conn != nil {
		g.conn.Close()
	}
}

func (g *Guard) watch(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.conn = c
	if g.fired {
		c.Close()
	}
}

func (g *Guard) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	g.timer.Stop()
}

// resume restarts the full timeout: the person has just answered.
func (g *Guard) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = false
	g.timer.Reset(g.timeout)
}

// progress restarts the clock after a step of the connect succeeded.
func (g *Guard) progress() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused && !g.fired {
		g.timer.Reset(g.timeout)
	}
}

// done ends the guard once the session is up; the connection stays open.
func (g *Guard) done() {
	g.timer.Stop()
	g.stopCtx()
	g.cancel()
}

func (g *Guard) expired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fired
}

func (g *Guard) timeoutError(addr string) error {
	return &StartupError{Kind: StartupConnect, Err: fmt.Errorf("connect to %s: no answer within %v (ConnectTimeout)", addr, g.timeout)}
}

// pausingPrompter stops the connect timeout while a person is asked.
type pausingPrompter struct {
	p Prompter
	g *Guard
}

func (pp pausingPrompter) Secret(prompt string) ([]byte, error) {
	pp.g.pause()
	defer pp.g.resume()
	return pp.p.Secret(prompt)
}

func (pp pausingPrompter) Ask(prompt string) (string, error) {
	pp.g.pause()
	defer pp.g.resume()
	return pp.p.Ask(prompt)
}

func (pp pausingPrompter) Say(msg string) { pp.p.Say(msg) }

// classifyHandshakeError turns x/crypto's handshake errors into one line
// that says what failed and what to do; a failed login names the login
// methods in force that only ssh can take (loginAdvice).
func classifyHandshakeError(addr, user string, logins []sshconf.LoginSetting, err error) error {
	var hkErr *HostKeyError
	if errors.As(err, &hkErr) {
		return &StartupError{Kind: StartupHostKey, Err: hkErr}
	}
	var se *StartupError
	if errors.As(err, &se) {
		return se
	}
	var negErr *ssh.AlgorithmNegotiationError
	if errors.As(err, &negErr) {
		return &StartupError{Kind: StartupConnect, Err: negotiationAdvice(addr, negErr)}
	}
	msg := strings.TrimPrefix(err.Error(), "ssh: handshake failed: ")
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return &StartupError{Kind: StartupAuth, Err: fmt.Errorf("authentication as %s on %s failed (%s): check the user name and keys, or give a password with -o password_stdin%s", user, addr, triedMethods(msg), loginAdvice(logins))}
	case strings.Contains(msg, "identity file") || strings.Contains(msg, "nobody can answer"):
		return &StartupError{Kind: StartupAuth, Err: fmt.Errorf("authentication as %s on %s failed: %s%s", user, addr, msg, loginAdvice(logins))}
	case strings.Contains(msg, "host key"):
		return &StartupError{Kind: StartupHostKey, Err: errors.New(msg)}
	}
	return &StartupError{Kind: StartupConnect, Err: fmt.Errorf("ssh handshake with %s: %w", addr, unwrapNetError(err))}
}

// triedMethods extracts "attempted methods [none publickey]" for the
// message, so the user sees whether a password was even asked.
func triedMethods(msg string) string {
	_, rest, ok := strings.Cut(msg, "attempted methods [")
	if !ok {
		return "no method accepted"
	}
	list, _, _ := strings.Cut(rest, "]")
	var tried []string
	for _, m := range strings.Fields(list) {
		if m != "none" {
			tried = append(tried, m)
		}
	}
	if len(tried) == 0 {
		return "no key or password to offer"
	}
	return "tried " + strings.Join(tried, ", ")
}
