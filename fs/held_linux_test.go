package fs

import (
	"runtime"
	"syscall"
	"testing"
)

// threadGroup reads /proc: Linux only.
func TestSameProcessTellsThreadsOfOneProcessFromOthers(t *testing.T) {
	tid, stop := make(chan uint32), make(chan struct{})
	defer close(stop)
	go func() {
		runtime.LockOSThread() // kept until stop, then ended with the goroutine
		tid <- uint32(syscall.Gettid())
		<-stop
	}()
	other, me := <-tid, uint32(syscall.Getpid())
	if other == me {
		t.Skip("the goroutine ran on the main thread")
	}
	if !sameProcess(me, other) {
		t.Error("two threads of this process are not one process")
	}
	if sameProcess(me, 1) || sameProcess(other, 1) {
		t.Error("this process is init")
	}
}
