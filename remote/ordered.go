package remote

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// A request that must run after a write (the times of a file tar just
// filled: the write moves the mtime) need not wait for the write's answer
// when the server runs a session's requests in the order they arrive, as
// OpenSSH's sftp-server does (and the SFTP drafts ask for requests on one
// file): it only has to be sent after the write. pkg/sftp v1 sends each
// request inside a call that returns with the answer, so it never says
// when a request has gone. sentWatch says it: it sits where pkg/sftp
// writes its requests and recognises a write's data by its buffer, which
// pkg/sftp hands over as it is (the data of a WRITE is written on its
// own, after the header, under the lock that keeps requests whole).
type sentWatch struct {
	io.WriteCloser
	n       atomic.Int32 // len(waiting), read without the lock
	mu      sync.Mutex
	waiting map[*byte]*sentWait
}

// sentWait is one write that waits to be seen going out, packet by packet.
type sentWait struct {
	left int32 // packets still to go
	done func()
}

// orderedPacket is how pkg/sftp cuts a write into WRITE requests: its
// default packet size, which this client never changes. Were it to cut
// differently, a watched write would only be seen as sent when its call
// returns: slower, never out of order.
const orderedPacket = 1 << 15

func (w *sentWatch) Write(p []byte) (int, error) {
	n, err := w.WriteCloser.Write(p)
	if len(p) > 0 && w.n.Load() > 0 {
		w.mu.Lock()
		sw := w.waiting[&p[0]]
		if sw != nil {
			delete(w.waiting, &p[0])
			w.n.Add(-1)
			sw.left--
		}
		last := sw != nil && sw.left == 0
		w.mu.Unlock()
		if last {
			sw.done()
		}
	}
	return n, err
}

// watch arranges for sent to be called once every packet of a write of p
// has been handed to the connection, and returns what forgets the write
// (to call when the write returns, sent or not).
func (w *sentWatch) watch(p []byte, sent func()) (forget func()) {
	if len(p) == 0 {
		return func() {}
	}
	sw := &sentWait{done: sent}
	var keys []*byte
	for off := 0; off < len(p); off += orderedPacket {
		keys = append(keys, &p[off])
	}
	sw.left = int32(len(keys))
	w.mu.Lock()
	if w.waiting == nil {
		w.waiting = map[*byte]*sentWait{}
	}
	for _, k := range keys {
		w.waiting[k] = sw
	}
	w.n.Add(int32(len(keys)))
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, k := range keys {
			if w.waiting[k] == sw {
				delete(w.waiting, k)
				w.n.Add(-1)
			}
		}
	}
}

// inOrder reports servers known to run one session's requests in the order
// they arrive: OpenSSH's sftp-server handles one request at a time.
func inOrder(serverVersion string) bool {
	return strings.HasPrefix(serverVersion, "SSH-2.0-OpenSSH_")
}

// newOrderedClient starts the SFTP server on conn (see startSFTP), with
// its requests going through a sentWatch when the server runs them in
// order (nil otherwise). A command of the user's own (sftp_server=) is
// taken to run in order only if it is OpenSSH's sftp-server.
func newOrderedClient(conn *ssh.Client, server string) (*sftp.Client, *sentWatch, error) {
	ordered := inOrder(string(conn.ServerVersion())) && (server == "" || strings.Contains(server, "sftp-server"))
	return startSFTP(conn, server, ordered)
}

// startSFTP starts an SFTP client on a new session of conn: the server's
// sftp subsystem, or, given a command (sshfs's -o sftp_server=, such as
// "sudo -n /usr/lib/openssh/sftp-server"), that command, run by the
// server's login shell as ssh runs one. With watch, requests go through
// a sentWatch (see WaitSent in file.go).
func startSFTP(conn *ssh.Client, server string, watch bool, opts ...sftp.ClientOption) (*sftp.Client, *sentWatch, error) {
	opts = append(append([]sftp.ClientOption{}, sftpOptions...), opts...)
	in, stdout, s, err := sftpChannel(conn, server)
	if err != nil {
		return nil, nil, err
	}
	if !watch {
		sc, err := sftp.NewClientPipe(stdout, in, opts...)
		if err != nil {
			s.Close()
		}
		return sc, nil, err
	}
	w := &sentWatch{WriteCloser: in}
	sc, err := sftp.NewClientPipe(stdout, w, opts...)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return sc, w, nil
}

// sftpChannel opens a new session of conn running the server's sftp
// subsystem, or the -o sftp_server command: its input (closing it ends
// the session) and output.
func sftpChannel(conn *ssh.Client, server string) (sessionInput, io.Reader, *ssh.Session, error) {
	s, err := conn.NewSession()
	if err != nil {
		return sessionInput{}, nil, nil, err
	}
	stdin, err1 := s.StdinPipe()
	stdout, err2 := s.StdoutPipe()
	if err = errors.Join(err1, err2); err == nil {
		if server == "" {
			err = s.RequestSubsystem("sftp")
		} else {
			err = s.Start(server)
		}
	}
	if err != nil {
		s.Close()
		return sessionInput{}, nil, nil, err
	}
	return sessionInput{stdin, s}, stdout, s, nil
}

// sessionInput closes the SSH session with its input, as sftp.NewClient's
// client does when it is closed. It closes the channel without sending
// EOF first: x/crypto's CloseWrite sets a flag that a Write in progress
// reads unguarded (a race the race detector saw in the untar soak, a
// wire.Conn's read loop closing while a READDIR was being sent), while
// Close takes the channel's write lock; the server ends the session
// either way.
type sessionInput struct {
	io.WriteCloser
	s *ssh.Session
}

func (i sessionInput) Close() error {
	return i.s.Close()
}
