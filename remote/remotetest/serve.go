package remotetest

import (
	"context"
	"io"
	"sync"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote"
)

// Server serves one directory, a pipe for each stream opened.
type Server struct {
	dir     string
	quirks  *Quirks // nil: pkg/sftp's server as it is
	openssh bool    // OpenSSH's sftp-server in place of pkg/sftp's

	mu      sync.Mutex // guards servers
	servers []func()   // each ends one stream's server and waits for it
}

// Serve serves dir; paths the client gives are as on the local disk.
func Serve(dir string) *Server { return &Server{dir: dir} }

// Open is a remote.Stream: each call starts a server of its own.
func (s *Server) Open(context.Context) (io.ReadWriteCloser, error) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	var stop func()
	if s.openssh {
		r, w, end, err := startOpenSSH(s.dir)
		if err != nil {
			return nil, err
		}
		filter(s.quirks, sr, sw, r, w)
		stop = func() { sr.Close(); end() }
	} else {
		toServer, fromServer := io.Reader(sr), io.WriteCloser(sw)
		if s.quirks != nil {
			var fw io.WriteCloser
			toServer, fw = io.Pipe()
			var fr io.Reader
			fr, fromServer = io.Pipe()
			filter(s.quirks, sr, sw, fr, fw)
		}
		srv, err := sftp.NewServer(struct {
			io.Reader
			io.WriteCloser
		}{toServer, fromServer}, sftp.WithServerWorkingDirectory(s.dir))
		if err != nil {
			return nil, err
		}
		done := make(chan struct{})
		go func() { srv.Serve(); close(done) }()
		stop = func() { sr.Close(); sw.Close(); fromServer.Close(); <-done }
	}
	s.mu.Lock()
	s.servers = append(s.servers, stop)
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
