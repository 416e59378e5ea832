package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/sftpmount/sftpmount/remote/transport"
)

// The streams SFTP can be carried on without our SSH: sshfs's
// -o ssh_command (a command's stdin and stdout), -o directport (a TCP
// connection) and -o passive (this process's own stdin and stdout). Each
// is a Stream for ConnectStream.

// CommandStream runs argv for every stream, the first and each one after
// (a reconnect, the wire layer's channel), its stderr going line by line
// to say. interactive, asked at each start, keeps the command in the
// terminal's process group so that it may ask its user (see
// transport.StartCommand).
func CommandStream(argv []string, interactive func() bool, say func(string)) Stream {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return transport.StartCommand(argv, interactive(), say)
	}
}

// TCPStream connects to addr for every stream, within ctx.
func TCPStream(addr string) Stream {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		// As over SSH (transport's hop): a connection given up sends
		// nothing more, so only what reached the server can still land.
		conn.(*net.TCPConn).SetLinger(0)
		return conn, nil
	}
}

// errStreamUsed is the answer of a stream that can be had once only.
var errStreamUsed = errors.New("SFTP on stdin and stdout (passive) can be started once only: no reconnect, no second channel")

// OnceStream gives r and w as the stream the first time (-o passive: the
// process's stdin and stdout), and fails every time after.
func OnceStream(r io.ReadCloser, w io.WriteCloser) Stream {
	var once sync.Once
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		var rw io.ReadWriteCloser
		once.Do(func() { rw = readWriteCloser{r, w} })
		if rw == nil {
			return nil, errStreamUsed
		}
		return rw, nil
	}
}

// readWriteCloser joins a reader and a writer; Close closes both.
type readWriteCloser struct {
	io.ReadCloser
	w io.WriteCloser
}

func (rw readWriteCloser) Write(b []byte) (int, error) { return rw.w.Write(b) }

func (rw readWriteCloser) Close() error {
	werr := rw.w.Close()
	if err := rw.ReadCloser.Close(); err != nil {
		return err
	}
	return werr
}
