package fs

import (
	"context"
	"sync"
)

// Start begins the mount's work in the background: the uploads of the
// write-back queue (those LoadJournal found, and those to come). It is
// called once the kernel has the mount: an upload finds its node in the
// tree, which go-fuse makes whole only when it mounts.
func (f *FS) Start() {
	f.startFeed()
	if f.writeback != nil {
		f.writeback.Start()
	}
}

// Close ends every goroutine the mount started, once the kernel has
// unmounted it (no request can start another): the write-back queue (an
// upload still running finishes while ctx allows, else it stays whole in
// the journal for the next mount; see writeback.Queue.Close), what
// identity started (objects.go, shed.go and the kernel notices), then
// every other goroutine of fs (background). It returns when they have
// all ended.
func (f *FS) Close(ctx context.Context) {
	f.writeback.Close(ctx)
	f.stopIdentity()
	f.bg.close()
}

// background owns fs's goroutines other than write-back's and
// identity's: listings streamed and made ahead, files fetched ahead,
// absent names asked about again, new files' checks, kernel notices sent
// off the request path. Each runs with ctx, done at Close; Close waits for
// them all. One started after Close (by a late caller) still runs, with
// ctx already done, and is not waited for: nothing of the mount is left
// to act on by then.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex // guards running, closed
	running int
	idle    sync.Cond // signalled when running drops to 0
	closed  bool
}

func newBackground() *background {
	b := &background{}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.idle.L = &b.mu
	return b
}

// Go runs fn in a goroutine of its own, with the mount's ctx.
func (b *background) Go(fn func(ctx context.Context)) {
	b.mu.Lock()
	b.running++
	b.mu.Unlock()
	go func() {
		defer b.done()
		fn(b.ctx)
	}()
}

func (b *background) done() {
	b.mu.Lock()
	b.running--
	if b.running == 0 {
		b.idle.Broadcast()
	}
	b.mu.Unlock()
}

// close cancels ctx and waits for every goroutine started before it.
func (b *background) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	b.cancel()
	for b.running > 0 {
		b.idle.Wait()
	}
}
