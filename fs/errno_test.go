package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

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
		{"gave up (reconnect=no)", remote.ErrNotConnected, syscall.ENOTCONN},
		{"file replaced while the link was down", &remote.OpError{Op: "reopen", Path: "/f", Err: remote.ErrStale}, syscall.ESTALE},
		{"change cut off, server cannot tell", &remote.OpError{Op: "rename", Path: "/a", Err: fmt.Errorf("%w: both gone", remote.ErrUnsettled)}, syscall.EIO},
		{"unexpected eof", io.ErrUnexpectedEOF, syscall.EIO},
		{"short write", io.ErrShortWrite, syscall.EIO},
		{"unknown error", errors.New("something odd"), syscall.EIO},
		// pkg/sftp's bare codes (sftp.ErrSSHFxFailure...) are read as
		// their status codes by remote.StatusCode, tested there row by
		// row; each code's errno is one of the rows below.
	}
	for code, want := range statusErrno {
		cases = append(cases, struct {
			name string
			err  error
			want syscall.Errno
		}{fmt.Sprintf("status %d", code), remote.StatusErr(code), want})
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
		if got := errnoOf(wrapped(remote.StatusErr(code))); got == syscall.ENOSYS {
			t.Errorf("status %d mapped to ENOSYS, which disables the call for the whole mount", code)
		}
	}
}

func TestOnlyFailureStatusIsAmbiguous(t *testing.T) {
	if !isFailure(wrapped(remote.StatusErr(remote.StatusFailure))) || !isFailure(remote.StatusErr(remote.StatusFailure)) {
		t.Error("SSH_FX_FAILURE not recognised as ambiguous")
	}
	for _, err := range []error{os.ErrNotExist, remote.StatusErr(remote.StatusPermissionDenied), errors.New("x"), nil} {
		if isFailure(err) {
			t.Errorf("%v reported as SSH_FX_FAILURE", err)
		}
	}
}

func TestOverlongNameIsENAMETOOLONGNotEINVAL(t *testing.T) {
	f := &FS{opts: Options{NameMax: 10}}
	bad := wrapped(remote.StatusErr(remote.StatusBadMessage))
	if got := f.result("create", "dir/"+strings.Repeat("x", 11), bad, nil); got != syscall.ENAMETOOLONG {
		t.Errorf("11-byte name with NameMax 10: %v", got)
	}
	if got := f.result("create", "dir/short", bad, nil); got != syscall.EINVAL {
		t.Errorf("short name: %v, want EINVAL", got)
	}
	f.opts.NameMax = 0
	if got := f.result("create", strings.Repeat("x", 256), bad, nil); got != syscall.ENAMETOOLONG {
		t.Errorf("256-byte name with the default limit: %v", got)
	}
}

func TestAmbiguousFailureAsksForTheRealCause(t *testing.T) {
	f := &FS{}
	failure := wrapped(remote.StatusErr(remote.StatusFailure))
	if got := f.result("rmdir", "d", failure, func() syscall.Errno { return syscall.ENOTEMPTY }); got != syscall.ENOTEMPTY {
		t.Errorf("explained failure: %v", got)
	}
	if got := f.result("rmdir", "d", failure, func() syscall.Errno { return 0 }); got != syscall.EIO {
		t.Errorf("unexplained failure: %v, want EIO", got)
	}
	called := false
	f.result("rmdir", "d", os.ErrNotExist, func() syscall.Errno { called = true; return 0 })
	if called {
		t.Error("explain asked about an unambiguous error")
	}
}

// FuzzErrnoOf: whatever the server sends, wrapped however, the answer is
// a real errno, never 0 for an error and never ENOSYS.
func FuzzErrnoOf(f *testing.F) {
	for _, code := range []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 18, 24, 31, 1 << 31} {
		f.Add(code, uint8(0))
		f.Add(code, uint8(1))
		f.Add(code, uint8(2))
	}
	f.Fuzz(func(t *testing.T, code uint32, wrap uint8) {
		err := remote.StatusErr(code)
		switch wrap % 3 {
		case 1:
			err = wrapped(err)
		case 2:
			err = &os.PathError{Op: "open", Path: "/x", Err: wrapped(err)}
		}
		got := errnoOf(err)
		if got == 0 || got == syscall.ENOSYS {
			t.Fatalf("status %d (wrap %d) mapped to %v", code, wrap%3, got)
		}
	})
}
