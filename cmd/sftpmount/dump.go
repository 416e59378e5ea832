package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"
	"time"
)

// dumpOnSIGQUIT makes SIGQUIT write every goroutine's stack and keep
// serving, so a mount that seems stuck in the field can be diagnosed
// without a debugger: to stderr (the -d log in the foreground) and to a
// file in the temporary directory, whose path goes to stderr too (a
// mount in the background has no stderr). Go's own SIGQUIT would print
// the same and end the process, and the mount with it.
func dumpOnSIGQUIT() func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGQUIT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sigs:
				writeGoroutines()
			}
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

func writeGoroutines() {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("sftpmount-%d-goroutines-%s.txt", os.Getpid(), time.Now().Format("150405")))
	fmt.Fprintf(os.Stderr, "sftpmount: SIGQUIT: goroutine dump follows, and is in %s\n", path)
	pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0600); err == nil {
		pprof.Lookup("goroutine").WriteTo(f, 2)
		f.Close()
	}
	// And what holds the memory (go tool pprof -sample_index=inuse_space).
	heap := filepath.Join(os.TempDir(), fmt.Sprintf("sftpmount-%d-heap-%s.pprof", os.Getpid(), time.Now().Format("150405")))
	if f, err := os.OpenFile(heap, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0600); err == nil {
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
		fmt.Fprintf(os.Stderr, "sftpmount: SIGQUIT: heap profile in %s\n", heap)
	}
}
