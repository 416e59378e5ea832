package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// onInterrupt runs action if SIGINT, SIGTERM or SIGHUP arrives before the
// returned stop is called, after putting the terminal back as it was: a
// passphrase prompt turns echo off, and an interrupted prompt would leave
// the user's shell blind.
func onInterrupt(tty *os.File, action func()) (stop func()) {
	var state *term.State
	if tty != nil {
		state, _ = term.GetState(int(tty.Fd()))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			if state != nil {
				term.Restore(int(tty.Fd()), state)
				fmt.Fprintln(tty)
			}
			action()
		case <-done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
		})
	}
}
