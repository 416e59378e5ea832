package remote

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/sftpmount/sftpmount/remote/transport"
	"github.com/sftpmount/sftpmount/remote/wire"
)

// The bulk sessions run on an SSH connection of their own when one can be
// had without asking anybody anything (keys, the agent, or a password kept
// with keep_password: what a reconnect may use). On the first connection
// their data would queue, in sshd's output and in the one TCP stream,
// ahead of every other reply: an ls during a large copy would wait for up
// to 16 MiB of it. Without a second login they share the first connection.

// startBulk starts s's bulk sessions in the background, after the login
// that made s is over (so nothing prompts). They arrive one by one; until
// then, and for any that does not start, data uses the file's own handle.
func (c *Client) startBulk(s *session) {
	if len(s.bulk) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Target.ConnectTimeout)
		defer cancel()
		on, how := s.ssh, "the first connection"
		if conn, err := c.secondConnection(ctx, s); err != nil {
			c.cfg.debugf("no second connection for large files (%v): their sessions share the first", err)
		} else {
			on, how = conn, "a second connection"
		}
		size := c.packetSize(ctx, s)
		started := s.startBulkOn(&c.cfg, on, sftp.MaxPacketUnchecked(size))
		c.cfg.debugf("%d extra sftp sessions for large files, on %s, reading and writing %d bytes a request", started, how, size)
	}()
}

// secondConnection logs in once more, as a reconnect would, and ties the
// connection's life to s's.
func (c *Client) secondConnection(ctx context.Context, s *session) (*ssh.Client, error) {
	if ok, hop := c.chain.CanLoginAgain(); !ok {
		return nil, fmt.Errorf("logging in to %s needed a password, not kept (keep_password)", hop)
	}
	g := transport.NewGuard(ctx, c.cfg.Target.ConnectTimeout)
	defer g.Done()
	clients, closeAll, err := c.chain.Login(g)
	if err != nil {
		return nil, err
	}
	s.bulkMu.Lock()
	if s.isDead() {
		s.bulkMu.Unlock()
		closeAll()
		return nil, s.why
	}
	s.bulkConn = closeAll
	s.bulkMu.Unlock()
	s.closeWhenLost(clients)
	target := clients[len(clients)-1]
	if c.cfg.Target.KeepaliveInterval > 0 {
		// Idle between large files, it would be the first to be
		// dropped by a NAT or firewall that forgets quiet flows.
		go s.keepalive(&c.cfg, target)
	}
	return target, nil
}

// startBulkOn starts the bulk subsystems on conn, all at once. One that
// does not start leaves its slot empty: the server may cap sessions per
// connection (sshd's MaxSessions, 10 by default).
func (s *session) startBulkOn(cfg *Config, conn *ssh.Client, opts ...sftp.ClientOption) int {
	var wg sync.WaitGroup
	var started atomic.Int32
	for i := range s.bulk {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc, _, err := startSFTP(conn, cfg.SFTPServer, false, opts...)
			if err != nil {
				cfg.debugf("an extra sftp session did not start: %v", err)
				return
			}
			s.bulk[i].Store(sc)
			if s.isDead() { // close may have run before the store
				sc.Close()
				return
			}
			started.Add(1)
		}()
	}
	wg.Wait()
	return int(started.Load())
}

// startWire starts s's wire layer channel in the background, so that the
// first listing (every listing goes through it) does not wait for the
// channel's open, its subsystem and its hello: three round trips.
func (c *Client) startWire(s *session) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Target.ConnectTimeout)
		defer cancel()
		if _, err := s.wireConn(ctx, c.cfg.SFTPServer); err != nil {
			c.cfg.debugf("no SFTP channel of our own (%v): listings go through pkg/sftp", err)
		}
	}()
}

// defaultPacket is what every SFTP server must take, and what pkg/sftp
// sends unless told: 32 KiB of data a read or write request.
const defaultPacket = 32 << 10

// packetSize is the data a bulk session's read or write request carries:
// the largest the server's limits@openssh.com (OpenSSH 8.6 and later)
// allows for both, so that no read is answered shorter than asked (which
// pkg/sftp would take as a short read), at most 1 MiB; 32 KiB without the
// extension.
func (c *Client) packetSize(ctx context.Context, s *session) int {
	w, err := s.wireConn(ctx, c.cfg.SFTPServer)
	if err != nil || !w.Has("limits@openssh.com") {
		return defaultPacket
	}
	l, err := w.Limits(ctx)
	if err != nil {
		c.cfg.debugf("limits@openssh.com: %v", err)
		return defaultPacket
	}
	return packetFor(l)
}

func packetFor(l wire.Limits) int {
	size := uint64(1 << 20)
	for _, lim := range []uint64{l.MaxRead, l.MaxWrite} {
		if lim > 0 {
			size = min(size, lim)
		}
	}
	if l.MaxPacket > 0 {
		// A write's packet also holds its header, the handle and the
		// offset: 1 KiB is OpenSSH's own margin.
		size = min(size, l.MaxPacket-min(l.MaxPacket, 1024))
	}
	return int(max(size, 512)) // a server that allows less than 32 KiB gets what it allows
}
