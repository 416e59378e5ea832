package fs

import "context"

// Start begins the mount's work in the background: the uploads of the
// write-back queue (those LoadJournal found, and those to come). It is
// called once the kernel has the mount: an upload finds its node in the
// tree, which go-fuse makes whole only when it mounts.
func (f *FS) Start() {
	if f.writeback != nil {
		f.writeback.Start()
	}
}

// Close ends every goroutine the mount started, once the kernel has
// unmounted it (no request can start another): the write-back queue
// (an upload still running finishes while ctx allows, else it stays whole
// in the journal for the next mount; see writeback.Queue.Close), then what
// identity started (objects.go, shed.go and the kernel notices). It
// returns when they have all ended.
func (f *FS) Close(ctx context.Context) {
	f.writeback.Close(ctx)
	f.stopIdentity()
}
