//go:build linux

package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cutterChild is this test binary run on the server as the -o sftp_server
// command: OpenSSH's sftp-server behind a relay that, once the file
// ctl/cut says "TYPE served" or "TYPE unserved", cuts the session at the
// next request of that SFTP packet type. Served, the request reaches
// sftp-server, which does it, and every answer from then on is lost;
// unserved, the request never reaches it. The file is then renamed to
// ctl/seen (one relay acts, once), for the test to reset the link.
func cutterChild(ctl string) int {
	server := exec.Command("/usr/lib/openssh/sftp-server")
	in, err := server.StdinPipe()
	if err != nil {
		return 1
	}
	out, err := server.StdoutPipe()
	if err != nil {
		return 1
	}
	server.Stderr = os.Stderr
	if err := server.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cutter:", err)
		return 1
	}
	var drop atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := out.Read(buf)
			if n > 0 && !drop.Load() {
				if _, werr := os.Stdout.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		os.Stdout.Close()
	}()
	r := bufio.NewReader(os.Stdin)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		packet := make([]byte, 4+(uint32(hdr[0])<<24|uint32(hdr[1])<<16|uint32(hdr[2])<<8|uint32(hdr[3])))
		copy(packet, hdr[:])
		if _, err := io.ReadFull(r, packet[5:]); err != nil {
			break
		}
		if typ, served, ok := cutOrder(ctl); ok && typ == hdr[4] && os.Rename(filepath.Join(ctl, "cut"), filepath.Join(ctl, "seen")) == nil {
			if !served {
				continue // lost on the way: the server never sees it
			}
			drop.Store(true)
		}
		if _, err := in.Write(packet); err != nil {
			break
		}
	}
	in.Close()
	server.Wait()
	return 0
}

// cutOrder reads ctl/cut: the packet type to cut at, and whether the
// server gets that request.
func cutOrder(ctl string) (typ byte, served, ok bool) {
	data, err := os.ReadFile(filepath.Join(ctl, "cut"))
	if err != nil {
		return 0, false, false
	}
	f := strings.Fields(string(data))
	n, err := strconv.Atoi(f[0])
	return byte(n), len(f) > 1 && f[1] == "served", err == nil
}

// SFTP request types (draft-ietf-secsh-filexfer-02).
const (
	sshFxpOpen     = 3
	sshFxpRemove   = 13
	sshFxpMkdir    = 14
	sshFxpRmdir    = 15
	sshFxpSymlink  = 20
	sshFxpExtended = 200 // posix-rename@openssh.com, hardlink@openssh.com
)

// A change cut off by a reset after its request went out and before its
// answer came, whether or not the server did it, answers as it would have
// (done) and the server's directory is as the change leaves it; where
// another client changed the name meanwhile, it answers what the server's
// state says (EEXIST for a name made, EIO where the state cannot tell).
func TestAChangeCutOffByAResetIsSettledNotFailed(t *testing.T) {
	link := newSlowLink(t, 0)
	ctl := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(ctl, "sftp-server-cutter")
	writeFile(t, wrapper, fmt.Sprintf("#!/bin/sh\nSFTPMOUNT_CUTTER_CHILD=%s exec %s\n", ctl, exe), 0755)
	m := mountWatched(t, link, 5*time.Minute, "-o", "sftp_server="+wrapper)

	type change struct {
		name      string
		typ       byte
		setup     func(mnt string) // through the mount
		do        func(mnt string) error
		meanwhile func(remote string) // another client, before the reset
		want      syscall.Errno
		check     func(t *testing.T, remote string)
	}
	holds := func(t *testing.T, p, want string, mode os.FileMode) {
		fi, err := os.Lstat(p)
		if got, _ := os.ReadFile(p); err != nil || string(got) != want || mode != 0 && fi.Mode() != mode {
			t.Errorf("%s holds %q (%v, %v), want %q (%v)", p, got, fi, err, want, mode)
		}
	}
	gone := func(t *testing.T, p string) {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want gone", p, err)
		}
	}
	create := func(flags int) func(string) error {
		return func(mnt string) error {
			f, err := os.OpenFile(filepath.Join(mnt, "n"), flags, 0640)
			if err != nil {
				return err
			}
			if _, err := f.WriteString("new"); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	}
	put := func(name, content string) func(string) {
		return func(dir string) { os.WriteFile(filepath.Join(dir, name), []byte(content), 0644) }
	}
	changes := []change{
		{name: "create", typ: sshFxpOpen, do: create(os.O_WRONLY | os.O_CREATE | os.O_TRUNC),
			check: func(t *testing.T, r string) { holds(t, filepath.Join(r, "n"), "new", 0640) }},
		{name: "O_EXCL create", typ: sshFxpOpen, do: create(os.O_WRONLY | os.O_CREATE | os.O_EXCL),
			check: func(t *testing.T, r string) { holds(t, filepath.Join(r, "n"), "new", 0640) }},
		{name: "mkdir", typ: sshFxpMkdir, do: func(mnt string) error { return os.Mkdir(filepath.Join(mnt, "d"), 0750) },
			check: func(t *testing.T, r string) {
				if fi, err := os.Lstat(filepath.Join(r, "d")); err != nil || fi.Mode() != os.ModeDir|0750 {
					t.Errorf("d: %v %v", fi, err)
				}
			}},
		{name: "unlink", typ: sshFxpRemove, setup: put("f", "x"), do: func(mnt string) error { return os.Remove(filepath.Join(mnt, "f")) },
			check: func(t *testing.T, r string) { gone(t, filepath.Join(r, "f")) }},
		{name: "rmdir", typ: sshFxpRmdir, setup: func(mnt string) { os.Mkdir(filepath.Join(mnt, "d"), 0755) },
			do:    func(mnt string) error { return syscall.Rmdir(filepath.Join(mnt, "d")) },
			check: func(t *testing.T, r string) { gone(t, filepath.Join(r, "d")) }},
		{name: "rename", typ: sshFxpExtended, setup: put("a", "aa"),
			do: func(mnt string) error { return os.Rename(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")) },
			check: func(t *testing.T, r string) {
				gone(t, filepath.Join(r, "a"))
				holds(t, filepath.Join(r, "b"), "aa", 0)
			}},
		{name: "rename over an existing name", typ: sshFxpExtended,
			setup: func(mnt string) { put("a", "aa")(mnt); put("b", "bbb")(mnt) },
			do:    func(mnt string) error { return os.Rename(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")) },
			check: func(t *testing.T, r string) {
				gone(t, filepath.Join(r, "a"))
				holds(t, filepath.Join(r, "b"), "aa", 0)
			}},
		{name: "symlink", typ: sshFxpSymlink, do: func(mnt string) error { return os.Symlink("../t", filepath.Join(mnt, "l")) },
			check: func(t *testing.T, r string) {
				if got, err := os.Readlink(filepath.Join(r, "l")); got != "../t" {
					t.Errorf("l -> %q (%v)", got, err)
				}
			}},
		{name: "link", typ: sshFxpExtended, setup: put("f", "ff"),
			do: func(mnt string) error { return os.Link(filepath.Join(mnt, "f"), filepath.Join(mnt, "g")) },
			check: func(t *testing.T, r string) {
				a, _ := os.Stat(filepath.Join(r, "f"))
				b, err := os.Stat(filepath.Join(r, "g"))
				if err != nil || !os.SameFile(a, b) {
					t.Errorf("g is not a link to f: %v", err)
				}
			}},
	}
	var cases []change
	for _, c := range changes {
		for _, served := range []string{"served", "unserved"} {
			c := c
			label := map[string]string{"served": "done by the server", "unserved": "not done by the server"}[served]
			c.name += ", " + label + "|" + served
			cases = append(cases, c)
		}
	}
	cases = append(cases,
		change{name: "O_EXCL create, another client made the name meanwhile|unserved", typ: sshFxpOpen,
			do: create(os.O_WRONLY | os.O_CREATE | os.O_EXCL), meanwhile: put("n", "theirs"), want: syscall.EEXIST,
			check: func(t *testing.T, r string) { holds(t, filepath.Join(r, "n"), "theirs", 0) }},
		change{name: "rename done, another client removed the target meanwhile|served", typ: sshFxpExtended, setup: put("a", "aa"),
			do:        func(mnt string) error { return os.Rename(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")) },
			meanwhile: func(r string) { os.Remove(filepath.Join(r, "b")) }, want: syscall.EIO,
			check: func(t *testing.T, r string) { gone(t, filepath.Join(r, "a")); gone(t, filepath.Join(r, "b")) }},
	)
	for i, c := range cases {
		name, mode, _ := strings.Cut(c.name, "|")
		t.Run(name, func(t *testing.T) {
			dir := fmt.Sprintf("case%d", i)
			mnt, remote := filepath.Join(m.mnt, dir), filepath.Join(m.remote, dir)
			if err := os.Mkdir(mnt, 0755); err != nil {
				t.Fatal(err)
			}
			if c.setup != nil {
				c.setup(mnt)
			}
			writeFile(t, filepath.Join(ctl, "cut"), fmt.Sprintf("%d %s", c.typ, mode), 0644)
			done := make(chan error, 1)
			go func() { done <- c.do(mnt) }()
			seen := filepath.Join(ctl, "seen")
			if !waitFor(10*time.Second, func() bool { _, err := os.Stat(seen); return err == nil }) {
				os.Remove(filepath.Join(ctl, "cut"))
				t.Fatalf("the request was not seen by the server's relay; the call returned %v", <-done)
			}
			os.Remove(seen)
			time.Sleep(100 * time.Millisecond) // done by the server, if it was to
			if c.meanwhile != nil {
				c.meanwhile(remote)
			}
			link.reset(t)
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the call did not return within 60 s of the reset")
			}
			var got syscall.Errno
			if !errors.As(err, &got) && err != nil {
				t.Fatalf("%v", err)
			}
			if got != c.want {
				t.Errorf("the caller got %v (%v), want %v", got, err, c.want)
			}
			c.check(t, remote)
		})
	}
}
