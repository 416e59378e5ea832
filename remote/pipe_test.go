package remote

import (
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// pipeSession runs an SFTP client against serve over in-memory pipes.
func pipeSession(t *testing.T, serve func(r io.Reader, w io.WriteCloser)) *session {
	t.Helper()
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	go serve(sr, sw)
	sc, err := sftp.NewClientPipe(cr, cw)
	if err != nil {
		t.Fatal(err)
	}
	closer := closerFunc(func() error { cr.Close(); cw.Close(); sr.Close(); sw.Close(); return nil })
	s := &session{conn: closer, sftp: sc, dead: make(chan struct{})}
	t.Cleanup(func() { s.close(ErrConnectionLost) })
	return s
}

// realServer serves dir with pkg/sftp's own server.
func realServer(t *testing.T, dir string) func(io.Reader, io.WriteCloser) {
	return func(r io.Reader, w io.WriteCloser) {
		srv, err := sftp.NewServer(struct {
			io.Reader
			io.WriteCloser
		}{r, w}, sftp.WithServerWorkingDirectory(dir))
		if err != nil {
			t.Error(err)
			return
		}
		srv.Serve()
	}
}

// silentServer answers the SFTP hello, then reads requests and never
// answers: a server whose link has gone quiet.
func silentServer(r io.Reader, w io.WriteCloser) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return
	}
	io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[:4]))-1)
	version := []byte{0, 0, 0, 5, 2, 0, 0, 0, 3} // length 5, SSH_FXP_VERSION, version 3
	w.Write(version)
	io.Copy(io.Discard, r)
}

func testClient(s *session, timeout time.Duration, root string) *Client {
	return &Client{cfg: Config{Timeout: timeout, Target: &sshconf.Endpoint{ConnectTimeout: timeout}, Debug: discardLogger}, cur: s, root: root}
}
