package remote

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/pkg/sftp"
)

// Every form in which pkg/sftp hands a server's status to remote's
// callers gives its code, bare, wrapped in an OpError or in a PathError
// (the rows fs/errno_test.go had for pkg/sftp's bare values).
func TestStatusCodeReadsEveryFormOfAServersAnswer(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code uint32
		ok   bool
	}{
		{"bare failure", sftp.ErrSSHFxFailure, StatusFailure, true},
		{"bare unsupported", sftp.ErrSSHFxOpUnsupported, StatusOpUnsupported, true},
		{"bare connection lost", sftp.ErrSSHFxConnectionLost, StatusConnectionLost, true},
		{"bare no connection", sftp.ErrSSHFxNoConnection, StatusNoConnection, true},
		{"bare bad message", sftp.ErrSSHFxBadMessage, StatusBadMessage, true},
		{"bare no such file", sftp.ErrSSHFxNoSuchFile, StatusNoSuchFile, true},
		{"bare permission", sftp.ErrSSHFxPermissionDenied, StatusPermissionDenied, true},
		{"bare eof", sftp.ErrSSHFxEOF, StatusEOF, true},
		{"not exist", os.ErrNotExist, 0, false},
		{"timeout", ErrTimeout, 0, false},
		{"unknown error", errors.New("something odd"), 0, false},
	}
	for code := uint32(0); code < 40; code++ {
		cases = append(cases, struct {
			name string
			err  error
			code uint32
			ok   bool
		}{fmt.Sprintf("status %d", code), StatusErr(code), code, true})
	}
	for _, c := range cases {
		for _, form := range []struct {
			label string
			err   error
		}{{"bare", c.err}, {"wrapped", &OpError{Op: "op", Path: "/p", Err: c.err}}, {"path error", &os.PathError{Op: "x", Path: "y", Err: c.err}}} {
			if code, ok := StatusCode(form.err); code != c.code || ok != c.ok {
				t.Errorf("%s (%s): got %d %v, want %d %v", c.name, form.label, code, ok, c.code, c.ok)
			}
		}
	}
}
