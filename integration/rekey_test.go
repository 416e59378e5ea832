//go:build linux

package integration

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The server rekeys every megabyte here (OpenSSH rekeys every gigabyte
// or so with chacha20-poly1305 by default, about once a minute under a
// large copy): every rekey must pass without losing the connection.
func TestTheServersRekeysDuringLargeCopiesLoseNothing(t *testing.T) {
	needServer(t)
	srv, err := startSSHDWith(filepath.Join(workDir, "sshd-rekey"), func(*sshServer) (string, error) {
		return "RekeyLimit 1M\n", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	for _, cipher := range []string{"", "chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes128-ctr"} {
		t.Run("cipher="+cipher, func(t *testing.T) {
			conn := []string{"-p", strconv.Itoa(srv.port), "-o", "IdentityFile=" + srv.userKey + ",UserKnownHostsFile=" + srv.knownHosts}
			if cipher != "" {
				conn = append(conn, "-o", "Ciphers="+cipher)
			}
			if cipher != "" {
				// And we rekey every 2 MiB ourselves.
				conn = append(conn, "-o", "RekeyLimit=2M")
			}
			_, log, m := startForegroundWith(t, conn)
			served, mnt := m.remote, m.mnt
			src := filepath.Join(t.TempDir(), "src")
			randomFile(t, src, 48<<20)
			out := t.TempDir()
			// Both ways at once, on every session, as a busy mount has it.
			sh(t, mnt, "for i in 1 2 3; do (cp "+src+" big$i && cp big$i "+out+"/o$i) & done; ls -lR . >/dev/null; wait")
			for _, i := range []string{"1", "2", "3"} {
				if sha(t, filepath.Join(served, "big"+i)) != sha(t, src) || sha(t, filepath.Join(out, "o"+i)) != sha(t, src) {
					t.Fatal("a copy differs")
				}
			}
			if n := strings.Count(log.String(), "reconnecting"); n != 0 {
				t.Fatalf("%d reconnects: a rekey lost the connection:\n%s", n, tail(log.String(), 20))
			}
		})
	}
}
