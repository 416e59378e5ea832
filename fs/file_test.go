package fs

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// fakeFile is a server's copy of one file; writes at gateOff wait for gate.
type fakeFile struct {
	mu      sync.Mutex
	data    []byte
	gateOff int64
	gate    chan struct{}
}

func (f *fakeFile) send(p []byte, off int64, _ func()) error {
	if off == f.gateOff {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := int(off) + len(p); end > len(f.data) {
		f.data = append(f.data, make([]byte, end-len(f.data))...)
	}
	copy(f.data[off:], p)
	return nil
}

func (f *fakeFile) fetch(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	if n := copy(p, f.data[off:]); n < len(p) {
		return n, io.EOF
	}
	return len(p), nil
}

func testHandle(t *testing.T, f *fakeFile) *fileHandle {
	return openTestHandle(t, &Node{fs: testFS()}, f, os.O_RDWR)
}

// openTestHandle opens the file of node, whose server copy is f.
func openTestHandle(t *testing.T, node *Node, f *fakeFile, flags int) *fileHandle {
	h := &fileHandle{node: node, rel: "f"}
	h.startBuffers(flags, f.send, f.fetch)
	h.register(flags)
	t.Cleanup(func() { h.flush() })
	return h
}

func read(t *testing.T, h *fileHandle, n int, off int64) []byte {
	t.Helper()
	res, errno := h.Read(context.Background(), make([]byte, n), off)
	if errno != 0 {
		t.Fatalf("read %d@%d: %v", n, off, errno)
	}
	b, _ := res.Bytes(nil)
	return b
}

// A write still on its way to the server while sequential reads elsewhere
// start read-ahead over its bytes: once it has landed, reading those bytes
// must give the new ones, not what the read-ahead fetched before.
func TestReadAfterWriteBehindLandsIsNotServedFromOlderReadAhead(t *testing.T) {
	const page = 4096
	f := &fakeFile{data: make([]byte, 1<<20), gateOff: 300 << 10, gate: make(chan struct{})}
	h := testHandle(t, f)
	fresh := bytes.Repeat([]byte{7}, page)
	if _, errno := h.Write(context.Background(), fresh, f.gateOff); errno != 0 {
		t.Fatal(errno)
	}
	read(t, h, page, 0)      // random: fetched as asked
	read(t, h, page, page)   // in sequence: starts read-ahead over the write's bytes
	read(t, h, page, 2*page) // waits for the read-ahead, which has the old bytes
	close(f.gate)            // the write lands while the next read waits for it
	if got := read(t, h, page, f.gateOff); !bytes.Equal(got, fresh) {
		t.Fatalf("read after the write landed: got bytes %v..., want %v...", got[:4], fresh[:4])
	}
}

// Likewise for a write that makes the file longer: read-ahead that saw the
// old end of file must not make a read past it short once the write is in.
func TestReadPastOldEndAfterWriteBehindLandsIsNotShort(t *testing.T) {
	const page = 4096
	f := &fakeFile{data: make([]byte, 64<<10), gateOff: 64 << 10, gate: make(chan struct{})}
	h := testHandle(t, f)
	fresh := bytes.Repeat([]byte{7}, page)
	if _, errno := h.Write(context.Background(), fresh, f.gateOff); errno != 0 {
		t.Fatal(errno)
	}
	read(t, h, page, 0)
	read(t, h, page, page)   // read-ahead from here meets the old end of file
	read(t, h, page, 2*page) // and is done
	close(f.gate)
	if err := h.flush(); err != nil { // as fsync does: nothing is pending now
		t.Fatal(err)
	}
	if got := read(t, h, page, f.gateOff); !bytes.Equal(got, fresh) {
		t.Fatalf("read past the old end of file: got %d bytes, want %d", len(got), len(fresh))
	}
}

// A read through one handle sees what was written through another: it
// waits for the write to land and does not use read-ahead from before it.
func TestReadSeesAnotherHandlesWrite(t *testing.T) {
	const page = 4096
	f := &fakeFile{data: make([]byte, 1<<20), gateOff: 300 << 10, gate: make(chan struct{})}
	node := &Node{fs: testFS()}
	r := openTestHandle(t, node, f, os.O_RDONLY)
	w := openTestHandle(t, node, f, os.O_WRONLY)
	read(t, r, page, 0)
	read(t, r, page, page)   // read-ahead over what w writes next
	read(t, r, page, 2*page) // and done, with the old bytes
	fresh := bytes.Repeat([]byte{7}, page)
	if _, errno := w.Write(context.Background(), fresh, f.gateOff); errno != 0 {
		t.Fatal(errno)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		close(f.gate) // lands only once the read below is waiting for it
	}()
	if got := read(t, r, page, f.gateOff); !bytes.Equal(got, fresh) {
		t.Fatalf("read through another handle: got bytes %v..., want %v...", got[:4], fresh[:4])
	}
}
