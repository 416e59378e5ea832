// Command sftpmount mounts a remote directory over SFTP:
//
//	sftpmount [user@]host:[dir] MOUNTPOINT [-p PORT] [-o opt,opt...] [-f] [-d]
//
// By default it returns once the mount is ready (exit 0) or has failed
// (non-zero, one line on stderr), leaving a background process serving it.
//
// It parses the command line (the option table, optiontable.go, from
// which --help is made), checks the mountpoint and /dev/fuse, starts the
// background process, connects and mounts (serve.go), answers `sftpmount
// status` and `sftpmount sync` on its control socket (control.go), and
// turns every start-up failure into one line and an exit code
// (exitcodes.go). Linux is where it is tested; FreeBSD and macOS build
// the _bsd, _darwin and _freebsd files instead of the _linux ones, and
// other systems the _other ones.
package main
