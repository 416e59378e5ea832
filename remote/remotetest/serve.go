package remotetest

import (
	"context"
	"encoding/binary"
	"io"
	"sync"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote"
)

// Server serves one directory, a pipe for each stream opened.
type Server struct {
	dir  string
	bare bool // the VERSION reply names no extension

	mu      sync.Mutex // guards servers
	servers []func()   // each ends one stream's server and waits for it
}

// Serve serves dir; paths the client gives are as on the local disk.
func Serve(dir string) *Server { return &Server{dir: dir} }

// ServeBare serves dir with a server that names no extension in its
// VERSION reply (as an SFTP v3 server of the draft's, or a managed
// service's, may): the client sends none of them.
func ServeBare(dir string) *Server { return &Server{dir: dir, bare: true} }

// Open is a remote.Stream: each call starts a server of its own.
func (s *Server) Open(context.Context) (io.ReadWriteCloser, error) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	out := io.WriteCloser(sw)
	if s.bare {
		out = bareVersion(sw)
	}
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{sr, out}, sftp.WithServerWorkingDirectory(s.dir))
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { srv.Serve(); close(done) }()
	s.mu.Lock()
	s.servers = append(s.servers, func() { sr.Close(); out.Close(); <-done })
	s.mu.Unlock()
	return struct {
		io.Reader
		io.WriteCloser
	}{cr, cw}, nil
}

var _ remote.Stream = (*Server)(nil).Open

// Close ends every stream's server and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, stop := range s.servers {
		stop()
	}
	s.servers = nil
}

// bareVersion passes what the server writes to w, except that its
// VERSION reply names no extension; it closes w when the server closes
// what it returns.
func bareVersion(w io.WriteCloser) io.WriteCloser {
	r, pw := io.Pipe()
	go func() {
		defer w.Close()
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
			return
		}
		w.Write([]byte{0, 0, 0, 5, 2, 0, 0, 0, 3}) // SSH_FXP_VERSION 3, nothing more
		io.Copy(w, r)
	}()
	return pw
}
