package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	keepSecretsIn()
	keepDescriptorsToSelf()
	if len(args) > 0 && (args[0] == "status" || args[0] == "sync") {
		return control(args[0], args[1:])
	}
	o, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		fmt.Print(helpText)
		return ExitOK
	case errors.Is(err, errVersion):
		fmt.Println(versionLine())
		return ExitOK
	case err != nil:
		return report(fail(ExitUsage, err.Error()))
	}
	// Local problems are found before anything is sent to the server.
	if err := checkMountpoint(o.Mountpoint, o.Nonempty); err != nil {
		return report(err)
	}
	if err := checkFuseDevice(); err != nil {
		return report(err)
	}
	if isDaemonChild() {
		return report(serveAsDaemon(o))
	}
	for _, n := range o.Notices {
		say(n)
	}
	if o.Foreground {
		st, err := foregroundStartup(o)
		if err != nil {
			return report(err)
		}
		return report(serve(o, st))
	}
	return report(startDaemon(args, o))
}

// foregroundStartup asks on this process's own terminal and stdin. Until
// the mount is ready, Ctrl-C puts the terminal back (a password prompt
// turns echo off) and exits.
func foregroundStartup(o options) (*startup, error) {
	tty := openTerminal()
	st := &startup{
		tty:    tty,
		ready:  exitOnSignalUntilReady(tty),
		notice: say,
	}
	if o.PasswordStdin {
		p, err := readPasswordLine(os.Stdin)
		if err != nil {
			return nil, fail(ExitUsage, err.Error())
		}
		st.password = p
	}
	return st, nil
}

func exitOnSignalUntilReady(tty *os.File) func(error) {
	stop := onInterrupt(tty, func() {
		os.Exit(report(fail(ExitInterrupted, "interrupted before the mount was ready")))
	})
	return func(error) { stop() }
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
	say(f.msg)
	return f.code
}

// say prints msg on stderr as one line, its control characters shown
// (oneLine): an option's value, a path or a server's words in it reach
// the terminal as text, never as an escape sequence or a second line.
func say(msg string) {
	fmt.Fprintln(os.Stderr, "sftpmount: "+oneLine(msg))
}

// oneLine shows every control character of s, newlines and tabs
// included, and every byte that is not UTF-8, as \ooo octal.
func oneLine(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || !unicode.IsPrint(r) && r != ' ' {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\%03o", c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
