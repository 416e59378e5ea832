package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/pkg/sftp"

	"github.com/sftpmount/sftpmount/remote"
)

func wrapped(err error) error { return &remote.OpError{Op: "op", Path: "/p", Err: err} }

func TestEveryRemoteErrorMapsToTheErrnoALocalDiskGives(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"not exist", os.ErrNotExist, syscall.ENOENT},
		{"permission", os.ErrPermission, syscall.EACCES},
		{"exist", os.ErrExist, syscall.EEXIST},
		{"errno passes through", syscall.ENOTEMPTY, syscall.ENOTEMPTY},
		{"timeout", remote.ErrTimeout, syscall.ETIMEDOUT},
		{"context deadline", context.DeadlineExceeded, syscall.ETIMEDOUT},
		{"interrupted", context.Canceled, syscall.EINTR},
		{"connection lost", fmt.Errorf("%w: eof", remote.ErrConnectionLost), syscall.EIO},
		{"unexpected eof", io.ErrUnexpectedEOF, syscall.EIO},
		{"short write", io.ErrShortWrite, syscall.EIO},
		{"unknown error", errors.New("something odd"), syscall.EIO},
		{"bare failure", sftp.ErrSSHFxFailure, syscall.EIO},
		{"bare unsupported", sftp.ErrSSHFxOpUnsupported, syscall.ENOTSUP},
		{"bare connection lost", sftp.ErrSSHFxConnectionLost, syscall.EIO},
		{"bare no connection", sftp.ErrSSHFxNoConnection, syscall.ENOTCONN},
		{"bare bad message", sftp.ErrSSHFxBadMessage, syscall.EINVAL},
		{"bare no such file", sftp.ErrSSHFxNoSuchFile, syscall.ENOENT},
		{"bare permission", sftp.ErrSSHFxPermissionDenied, syscall.EACCES},
		{"bare eof", sftp.ErrSSHFxEOF, syscall.EIO},
	}
	for code, want := range statusErrno {
		cases = append(cases, struct {
			name string
			err  error
			want syscall.Errno
		}{fmt.Sprintf("status %d", code), &sftp.StatusError{Code: code}, want})
	}
	for _, c := range cases {
		for _, form := range []struct {
			label string
			err   error
		}{{"bare", c.err}, {"wrapped", wrapped(c.err)}, {"path error", &os.PathError{Op: "x", Path: "y", Err: c.err}}} {
			if c.err == nil && form.label != "bare" {
				continue
			}
			if got := errnoOf(form.err); got != c.want {
				t.Errorf("%s (%s): got %v, want %v", c.name, form.label, got, c.want)
			}
		}
	}
}

func TestNoRemoteErrorBecomesENOSYS(t *testing.T) {
	for code := uint32(0); code < 40; code++ {
		if got := errnoOf(wrapped(&sftp.StatusError{Code: code})); got == syscall.ENOSYS {
			t.Errorf("status %d mapped to ENOSYS, which disables the call for the whole mount", code)
		}
	}
}

func TestOnlyFailureStatusIsAmbiguous(t *testing.T) {
	if !isFailure(wrapped(&sftp.StatusError{Code: fxFailure})) || !isFailure(sftp.ErrSSHFxFailure) {
		t.Error("SSH_FX_FAILURE not recognised as ambiguous")
	}
	for _, err := range []error{os.ErrNotExist, &sftp.StatusError{Code: fxPermissionDenied}, errors.New("x"), nil} {
		if isFailure(err) {
			t.Errorf("%v reported as SSH_FX_FAILURE", err)
		}
	}
}
