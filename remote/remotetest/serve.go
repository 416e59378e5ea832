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
	dir string

	mu      sync.Mutex // guards servers
	servers []func()   // each ends one stream's server and waits for it
}

// Serve serves dir; paths the client gives are as on the local disk.
func Serve(dir string) *Server { return &Server{dir: dir} }

// Open is a remote.Stream: each call starts a server of its own.
func (s *Server) Open(context.Context) (io.ReadWriteCloser, error) {
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{sr, sw}, sftp.WithServerWorkingDirectory(s.dir))
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { srv.Serve(); close(done) }()
	s.mu.Lock()
	s.servers = append(s.servers, func() { sr.Close(); sw.Close(); <-done })
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
