package transport

import (
	"golang.org/x/crypto/ssh"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// Options say where to connect and with what.
type Options struct {
	Target *sshconf.Endpoint // with its Jumps in front

	// Prompter asks during the first connection; nil when nobody can.
	Prompter Prompter
	// Password was given at mount time, for the target only (never a
	// jump host); kept for later logins only with KeepPassword. The
	// caller wipes its own copy.
	Password     []byte
	KeepPassword bool

	// Debugf gets one line per connection event, never secrets;
	// Notice the lines a user must see (host keys added, unverified).
	Debugf func(format string, args ...any)
	Notice func(msg string)
}

func (o *Options) debugf(format string, args ...any) {
	if o.Debugf != nil {
		o.Debugf(format, args...)
	}
}

func (o *Options) notice(msg string) {
	if o.Notice != nil {
		o.Notice(msg)
		return
	}
	o.debugf("%s", msg)
}

// Chain is the hops to the target, each with its keys and login, reused
// for every connection (reconnects, the second connection).
type Chain struct {
	o    Options
	hops []*hop
}

// NewChain prepares the hops: known_hosts read, key files found.
func NewChain(o Options) (*Chain, error) {
	hops, err := newHops(&o)
	if err != nil {
		return nil, err
	}
	return &Chain{o: o, hops: hops}, nil
}

// Login connects and logs in to every hop in turn, each through the one
// before, under g. closeAll closes them all, last first.
func (c *Chain) Login(g *Guard) (clients []*ssh.Client, closeAll func(), err error) {
	closeAll = func() {
		for i := len(clients) - 1; i >= 0; i-- {
			clients[i].Close()
		}
	}
	for _, h := range c.hops {
		var via *ssh.Client
		if len(clients) > 0 {
			via = clients[len(clients)-1]
		}
		cl, err := h.login(g, via, c.o.Prompter)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		c.o.debugf("connected to %s as %s", h.ep.Addr(), h.ep.User)
		clients = append(clients, cl)
	}
	return clients, closeAll, nil
}

// LoggedIn is called once the first connection is made: from then on no
// login prompts, and a password not kept is wiped.
func (c *Chain) LoggedIn() {
	for _, h := range c.hops {
		h.auth.loggedIn()
	}
}

// CanLoginAgain says which hop, if any, needs what a later login lacks
// (a password not kept).
func (c *Chain) CanLoginAgain() (ok bool, blocking string) {
	for _, h := range c.hops {
		if !h.auth.canLoginAgain() {
			return false, h.ep.Addr()
		}
	}
	return true, ""
}

// Done stops the guard once the connection is made (or given up).
func (g *Guard) Done() { g.done() }

// Expired reports whether the guard fired: the step that failed did so
// because ConnectTimeout passed without progress.
func (g *Guard) Expired() bool { return g.expired() }
