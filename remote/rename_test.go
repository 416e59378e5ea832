package remote

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pkg/sftp"
)

// memServer serves pkg/sftp's in-memory filesystem, whose plain rename
// refuses to replace an existing name as SFTP v3 says.
func memServer(r io.Reader, w io.WriteCloser) {
	sftp.NewRequestServer(struct {
		io.Reader
		io.WriteCloser
	}{r, w}, sftp.InMemHandler()).Serve()
}

func TestRenameOverAFileWorksWithoutPosixRename(t *testing.T) {
	if err := sftp.SetSFTPExtensions("statvfs@openssh.com"); err != nil {
		t.Fatal(err)
	}
	defer sftp.SetSFTPExtensions("hardlink@openssh.com", "posix-rename@openssh.com", "statvfs@openssh.com")
	s := pipeSession(t, memServer)
	if _, ok := s.sftp.HasExtension("posix-rename@openssh.com"); ok {
		t.Fatal("server still offers posix-rename")
	}
	c := testClient(s, 10*time.Second, "/")
	ctx := context.Background()
	for name, content := range map[string]string{"a": "new", "b": "old"} {
		f, err := c.OpenFile(ctx, name, os.O_WRONLY|os.O_CREATE)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(ctx, []byte(content), 0)
		f.Close(ctx)
	}
	if err := c.Rename(ctx, "a", "b"); err != nil {
		t.Fatalf("rename over an existing file: %v", err)
	}
	f, err := c.OpenFile(ctx, "b", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if n, _ := f.ReadAt(ctx, buf, 0); string(buf[:n]) != "new" {
		t.Fatalf("b holds %q", buf[:n])
	}
	if _, err := c.Lstat(ctx, "a"); err == nil {
		t.Fatal("a still exists")
	}
}

// Without hardlink@openssh.com a link is unsupported (fs answers EPERM);
// without statvfs@openssh.com statfs answers sshfs's stand-in.
func TestLinkIsUnsupportedAndStatFSStandsInWithoutTheirExtensions(t *testing.T) {
	if err := sftp.SetSFTPExtensions("posix-rename@openssh.com"); err != nil {
		t.Fatal(err)
	}
	defer sftp.SetSFTPExtensions("hardlink@openssh.com", "posix-rename@openssh.com", "statvfs@openssh.com")
	c := testClient(pipeSession(t, memServer), 10*time.Second, "/")
	if err := c.Link(context.Background(), "a", "b"); err == nil || !errors.Is(err, sftp.ErrSSHFxOpUnsupported) {
		t.Errorf("link: %v, want unsupported", err)
	}
	if st, err := c.StatFS(context.Background(), ""); err != nil || st != StandInStatFS {
		t.Errorf("statfs: %+v, %v; want the stand-in", st, err)
	}
}
