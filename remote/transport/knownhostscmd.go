package transport

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsCommandTimeout bounds KnownHostsCommand, which is the user's.
const knownHostsCommandTimeout = 30 * time.Second

// loadWithCommand runs KnownHostsCommand, as ssh does once it has read
// the files, for the key being checked, and reads known_hosts again with
// the lines it printed after the files'. A command that fails refuses the
// key, as in ssh ("KnownHostsCommand failed").
func (hk *hostKeyChecker) loadWithCommand(key ssh.PublicKey) error {
	if len(hk.ep.KnownHostsCommand) == 0 {
		return nil
	}
	out, err := hk.runKnownHostsCommand(key)
	if err != nil {
		return &StartupError{Kind: StartupConfig, Err: err}
	}
	f, err := os.CreateTemp("", "sftpmount-known-hosts-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(out)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// knownhosts.New reads the file there and then.
	return hk.load(f.Name())
}

// runKnownHostsCommand runs the command without a shell, its arguments'
// key tokens expanded (ssh_config(5), TOKENS): %H the name looked up,
// %I why (HOSTNAME), %K the key in base64, %f its fingerprint, %t its
// type.
func (hk *hostKeyChecker) runKnownHostsCommand(key ssh.PublicKey) ([]byte, error) {
	argv := slices.Clone(hk.ep.KnownHostsCommand)
	r := strings.NewReplacer("%H", knownhosts.Normalize(hk.name()), "%I", "HOSTNAME",
		"%K", base64.StdEncoding.EncodeToString(key.Marshal()), "%f", ssh.FingerprintSHA256(key), "%t", key.Type())
	for i := 1; i < len(argv); i++ {
		argv[i] = r.Replace(argv[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), knownHostsCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("KnownHostsCommand %s failed: %v", argv[0], err)
	}
	return out, nil
}
