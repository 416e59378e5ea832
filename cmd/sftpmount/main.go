// Command sftpmount mounts a remote directory over SFTP:
//
//	sftpmount [user@]host:[dir] MOUNTPOINT [-p PORT] [-o opt,opt...] [-f] [-d]
//
// By default it returns once the mount is ready (exit 0) or has failed
// (non-zero, one line on stderr), leaving a background process serving it.
package main

import (
	"errors"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		fmt.Print(helpText)
		return ExitOK
	case errors.Is(err, errVersion):
		fmt.Println("sftpmount", version)
		return ExitOK
	case err != nil:
		return report(fail(ExitUsage, err.Error()))
	}
	if err := checkMountpoint(o.Mountpoint); err != nil {
		return report(err)
	}
	if isDaemonChild() {
		return report(serveAsDaemon(o))
	}
	if o.Foreground {
		return report(serve(o, nil))
	}
	return report(startDaemon(args))
}

// report prints err as the one line the user sees and returns its code.
func report(err error) int {
	if err == nil {
		return ExitOK
	}
	var f *failure
	if !errors.As(err, &f) {
		f = fail(ExitInternal, err.Error())
	}
	fmt.Fprintln(os.Stderr, "sftpmount: "+f.msg)
	return f.code
}

func checkMountpoint(mp string) error {
	fi, err := os.Stat(mp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: no such directory", mp))
	case err != nil:
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: %v", mp, errors.Unwrap(err)))
	case !fi.IsDir():
		return fail(ExitMountpoint, fmt.Sprintf("mountpoint %s: not a directory", mp))
	}
	return nil
}
