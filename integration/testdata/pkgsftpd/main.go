// Command pkgsftpd serves a directory with pkg/sftp's own server over
// plain TCP, a connection each, for the integration tests: -o directport
// mounts through it, and the server-compatibility tests use it as a
// server that is not OpenSSH. Nothing is encrypted or authenticated: it
// listens on loopback unless told otherwise.
//
//	pkgsftpd -listen 127.0.0.1:0 -root /srv/dir [-readonly]
//
// Once listening it prints "listening on HOST:PORT" on stdout (with
// -listen 127.0.0.1:0 that is how the caller learns the port). Relative
// paths start at -root; pkg/sftp's server does not confine a client to it,
// so absolute paths reach the whole filesystem, as the user running it.
// SIGTERM or SIGINT end it and every connection.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/pkg/sftp"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	root := flag.String("root", ".", "directory relative paths start at")
	readOnly := flag.Bool("readonly", false, "refuse every change")
	flag.Parse()
	if fi, err := os.Stat(*root); err != nil || !fi.IsDir() {
		log.Fatalf("pkgsftpd: -root %s: not a directory (%v)", *root, err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("pkgsftpd: %v", err)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	opts := []sftp.ServerOption{sftp.WithServerWorkingDirectory(*root)}
	if *readOnly {
		opts = append(opts, sftp.ReadOnly())
	}

	var mu sync.Mutex // guards conns
	conns := map[net.Conn]bool{}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		os.Exit(0)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatalf("pkgsftpd: %v", err)
		}
		mu.Lock()
		conns[c] = true
		mu.Unlock()
		go func() {
			defer func() {
				c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
			s, err := sftp.NewServer(c, opts...)
			if err != nil {
				log.Printf("pkgsftpd: %v", err)
				return
			}
			s.Serve()
		}()
	}
}
