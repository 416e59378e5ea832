package remote

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// requestTypes wraps serve so that the type of every request the client
// sends is recorded.
func requestTypes(serve func(io.Reader, io.WriteCloser)) (func(io.Reader, io.WriteCloser), func() []byte) {
	var mu sync.Mutex
	var types []byte
	return func(r io.Reader, w io.WriteCloser) {
			pr, pw := io.Pipe()
			go func() {
				defer pw.Close()
				for {
					var hdr [5]byte
					if _, err := io.ReadFull(r, hdr[:]); err != nil {
						return
					}
					mu.Lock()
					types = append(types, hdr[4])
					mu.Unlock()
					pw.Write(hdr[:])
					if _, err := io.CopyN(pw, r, int64(binary.BigEndian.Uint32(hdr[:4]))-1); err != nil {
						return
					}
				}
			}()
			serve(pr, w)
		}, func() []byte {
			mu.Lock()
			defer mu.Unlock()
			return append([]byte(nil), types...)
		}
}

// pkg/sftp v1 has no File.Chtimes: fsetstatTimes sends the FSETSTAT
// through its unexported fsetstat (see fsetstat.go). This fails should
// an upgrade of pkg/sftp change what that relies on.
func TestFsetstatTimesGoesThroughTheHandle(t *testing.T) {
	if !sftpFileLayout() {
		t.Fatal("sftp.File no longer has the fields fsetstatTimes reads (c, mu, handle)")
	}
	dir := t.TempDir()
	serve, types := requestTypes(realServer(t, dir))
	c := testClient(pipeSession(t, serve), 10*time.Second, dir)
	ctx := context.Background()
	f, _, err := c.CreateFile(ctx, "f", os.O_RDWR|os.O_EXCL, 0600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close(ctx)
	before := len(types())
	at := time.Unix(1300000000, 0)
	if err := f.Chtimes(ctx, Attr{Atime: at, Mtime: at}); err != nil {
		t.Fatal(err)
	}
	if err := f.Chmod(ctx, 0640); err != nil {
		t.Fatal(err)
	}
	if err := f.Chown(ctx, uint32(os.Getuid()), uint32(os.Getgid())); err != nil {
		t.Fatal(err)
	}
	const fsetstat = 10 // SSH_FXP_FSETSTAT
	if sent := types()[before:]; len(sent) != 3 || sent[0] != fsetstat || sent[1] != fsetstat || sent[2] != fsetstat {
		t.Fatalf("requests sent for the three changes: %v, want three FSETSTAT (10)", sent)
	}
	fi, err := os.Stat(filepath.Join(dir, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(at) || fi.Mode().Perm() != 0640 {
		t.Fatalf("on disk: mtime %v mode %v, want %v and 0640", fi.ModTime(), fi.Mode(), at)
	}
}
