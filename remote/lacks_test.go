package remote

import (
	"errors"
	stdlog "log"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// What a server refuses although plain SFTP has it is learned when first
// refused, said once however often it is refused again; a refusal for
// another reason (permission) or another call teaches nothing.
func TestARefusedCallIsLearnedOnceAndOtherErrorsAreNot(t *testing.T) {
	c := testClient(nil, time.Second, "/")
	var log strings.Builder
	c.cfg.Debug = stdlog.New(&log, "", 0)
	unsupported := &OpError{Op: "chmod", Path: "/x", Err: &sftp.StatusError{Code: StatusOpUnsupported}}
	for _, op := range []string{"chmod", "futimens", "truncate"} {
		c.learn(op, unsupported)
	}
	c.learn("chmod", &sftp.StatusError{Code: StatusPermissionDenied})
	c.learn("read", unsupported)
	c.learn("write", errors.New("not a status"))
	lacks := c.lacks.lines
	if len(lacks) != 1 || !strings.HasPrefix(lacks[0], "SETSTAT: ") || !strings.Contains(lacks[0], "ENOTSUP") {
		t.Errorf("lacks %q", lacks)
	}
	if said := log.String(); strings.Count(said, "\n") != 1 || !strings.Contains(said, "server lacks SETSTAT") {
		t.Errorf("-d log %q", said)
	}
	c.learn("write", unsupported)
	if len(c.lacks.lines) != 2 || !strings.HasPrefix(c.lacks.lines[1], "random writes: ") {
		t.Errorf("lacks %q", c.lacks.lines)
	}
}
