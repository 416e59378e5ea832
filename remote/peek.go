package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"

	"github.com/pkg/sftp"
)

// Peek opens rel for reading and asks for its attributes (fstat) and its
// first limit bytes together, then closes the handle without waiting: two
// round trips, the same as an open and a first read, for a reader that
// has not asked yet (a walk's next files, see fs). whole reports that
// data is the entire file: the read ended where the fstat put the end.
// A read cut short by the server (pkg/sftp issue 658) is just not whole.
func (c *Client) Peek(ctx context.Context, rel string, limit int) (a Attr, data []byte, whole bool, err error) {
	f := c.newFile(rel, os.O_RDONLY)
	if err := f.open(ctx, os.O_RDONLY); err != nil {
		return Attr{}, nil, false, err
	}
	defer func() { go f.Close(context.Background()) }()
	var statErr error
	statted := make(chan struct{})
	go func() {
		defer close(statted)
		a, statErr = f.Stat(ctx)
	}()
	buf := make([]byte, limit)
	var n int
	readErr := f.run(ctx, "read", true, func(h *sftp.File) error {
		var err error
		n, err = h.ReadAt(buf, 0)
		return err
	})
	<-statted
	if statErr != nil {
		return Attr{}, nil, false, statErr
	}
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return Attr{}, nil, false, readErr
	}
	if n < limit/2 {
		buf = bytes.Clone(buf[:n]) // a small file keeps no more than it has
	}
	return a, buf[:n], uint64(n) == a.Size, nil
}
