package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A socket directory in the way that is not this user's alone (here one
// anyone may write) is named in one line and passed over for a private
// one, where the socket is made 0600 whatever the umask and found again
// by status and sync; the private directory goes with the socket.
func TestAControlDirectoryInTheWayIsPassedOverAndFoundAgain(t *testing.T) {
	tmp, err := os.MkdirTemp("/tmp", "ctl") // t.TempDir is too long a path for a socket
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_RUNTIME_DIR", "")
	if err := os.Mkdir(controlDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(controlDir(), 0o777)
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	var said []string
	stop, err := serveControl("/m", nil, nil, "", func(s string) { said = append(said, s) })
	if err != nil {
		t.Fatal(err)
	}
	if len(said) != 1 || !strings.Contains(said[0], controlDir()) {
		t.Errorf("said %q, want one line naming %s", said, controlDir())
	}
	socks := controlSockets("/m")
	if len(socks) != 1 || filepath.Dir(socks[0]) == controlDir() {
		t.Fatalf("sockets found: %v", socks)
	}
	for _, p := range []string{socks[0], filepath.Dir(socks[0])} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	c, err := dialControl("/m")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := peerAllowed(c); !ok {
		t.Errorf("this user's own connection is not allowed")
	}
	c.Close()
	stop()
	if _, err := os.Stat(filepath.Dir(socks[0])); err == nil {
		t.Errorf("the private directory outlived its socket")
	}
	if _, err := net.Dial("unix", socks[0]); err == nil {
		t.Errorf("still answering after stop")
	}
}
