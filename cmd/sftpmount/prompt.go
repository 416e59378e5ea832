package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"

	"github.com/sftpmount/sftpmount/remote"
)

// newPrompter picks how the person starting the mount is asked for
// passphrases, passwords and new host keys, as ssh does: the terminal,
// else SSH_ASKPASS (when a display is set, or always with
// SSH_ASKPASS_REQUIRE=force or prefer). nil means nobody can be asked.
func newPrompter(tty *os.File) remote.Prompter {
	askpass := os.Getenv("SSH_ASKPASS")
	require := os.Getenv("SSH_ASKPASS_REQUIRE")
	display := os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
	switch {
	case askpass != "" && require == "force":
		return askpassPrompter{askpass}
	case askpass != "" && require == "prefer" && display:
		return askpassPrompter{askpass}
	case tty != nil && require != "never":
		return ttyPrompter{tty}
	case askpass != "" && require != "never" && (display || require == "prefer"):
		return askpassPrompter{askpass}
	}
	return nil
}

// openTerminal opens the controlling terminal, or returns nil.
func openTerminal() *os.File {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	return f
}

// ttyPrompter asks on a terminal: the controlling one in the foreground,
// or the one the parent handed to the background process.
type ttyPrompter struct{ tty *os.File }

// Secret turns echo off before it shows the prompt, as OpenSSH's
// readpassphrase does: someone typing as soon as the prompt appears must
// not see the start of the secret echoed (x/term's ReadPassword turns it
// off only once the prompt is out).
func (p ttyPrompter) Secret(prompt string) ([]byte, error) {
	fd := int(p.tty.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, fmt.Errorf("reading from the terminal: %v", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return nil, fmt.Errorf("reading from the terminal: %v", err)
	}
	defer unix.IoctlSetTermios(fd, ioctlSetTermios, old)
	fmt.Fprint(p.tty, prompt)
	defer fmt.Fprintln(p.tty)
	// Room up front: a slice that grows leaves copies of the start of
	// the secret behind, never wiped.
	line := make([]byte, 0, 4096)
	buf := make([]byte, 1)
	defer wipeBytes(buf)
	for {
		n, err := p.tty.Read(buf)
		if n == 1 && (buf[0] == '\n' || buf[0] == '\r') {
			return line, nil
		}
		if n == 1 {
			line = append(line, buf[0])
			continue
		}
		if err != nil {
			wipeBytes(line)
			if err == io.EOF && len(line) > 0 {
				return nil, fmt.Errorf("reading from the terminal: end of input before a newline")
			}
			return nil, fmt.Errorf("reading from the terminal: %v", err)
		}
	}
}

func (p ttyPrompter) Ask(prompt string) (string, error) {
	fmt.Fprint(p.tty, prompt)
	line, err := readLine(p.tty)
	if err != nil {
		return "", fmt.Errorf("reading from the terminal: %v", err)
	}
	return string(line), nil
}

func (p ttyPrompter) Say(msg string) { fmt.Fprintln(p.tty, msg) }

// askpassPrompter runs $SSH_ASKPASS with the prompt as its argument and
// takes its output as the answer; the secret never appears in an argv or
// environment.
type askpassPrompter struct{ program string }

func (p askpassPrompter) Secret(prompt string) ([]byte, error) {
	return p.run(prompt, "")
}

func (p askpassPrompter) Ask(prompt string) (string, error) {
	b, err := p.run(prompt, "confirm")
	return string(b), err
}

func (p askpassPrompter) Say(string) {}

func (p askpassPrompter) run(prompt, kind string) ([]byte, error) {
	cmd := exec.Command(p.program, prompt)
	cmd.Env = append(os.Environ(), "SSH_ASKPASS_PROMPT="+kind)
	cmd.Stdin, cmd.Stderr = nil, nil
	// Read straight into room made up front: Output's growing buffer,
	// or the copy exec makes through its own, would leave copies of the
	// answer behind that are never wiped.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("SSH_ASKPASS program %s: %v", p.program, err)
	}
	out := make([]byte, 0, 4096)
	for len(out) < cap(out) {
		n, rerr := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if rerr != nil {
			break
		}
	}
	r.Close() // an answer longer than the room: the program gets EPIPE, not a hang
	if err := cmd.Wait(); err != nil {
		wipeBytes(out)
		return nil, fmt.Errorf("SSH_ASKPASS program %s: %v", p.program, err)
	}
	return bytes.TrimRight(out, "\r\n"), nil
}

// readPasswordLine reads one line (sshfs's password_stdin): byte by byte,
// so nothing after the newline is consumed.
func readPasswordLine(r io.Reader) ([]byte, error) {
	line, err := readLine(r)
	if err != nil {
		wipeBytes(line)
		return nil, err
	}
	if len(line) == 0 {
		return nil, errors.New("password_stdin: no password on standard input")
	}
	return line, nil
}

func readLine(r io.Reader) ([]byte, error) {
	// Room for any password up front: growing the slice would leave
	// copies behind that are never wiped.
	line := make([]byte, 0, 4096)
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return bytes.TrimSuffix(line, []byte("\r")), nil
			}
			line = append(line, b[0])
		}
		if err == io.EOF {
			return line, nil
		}
		if err != nil {
			return line, err
		}
	}
}

func wipeBytes(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
