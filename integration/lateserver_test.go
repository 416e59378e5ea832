package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A write cut off by a reset is sent again on the new connection. The old
// sftp-server may still run what it had received before its sshd died
// (it was descheduled on a loaded machine, or in a slow disk write): that
// old copy must not land after a newer write over the same bytes. Here the
// old servers are stopped while their link is reset, and woken 400 ms
// later; the file is then rewritten with other bytes through the same
// descriptor. The server's file must hold the newer bytes. This is what
// the 30-minute soak's resets round found once: a read gave back bytes the
// exerciser had overwritten. (sftpmount waits a second after giving up a
// connection before it sends a cut-off change again: session.settle.)
func TestAWriteCutOffByAResetDoesNotLandAfterANewerOneWhenTheOldServerRunsLate(t *testing.T) {
	needServer(t)
	const sftpServer = "/usr/lib/openssh/sftp-server"
	tools := newServedDir(t, "root")
	pids := filepath.Join(tools, "pids")
	wrapper := filepath.Join(tools, "sftp-server-wrapper")
	writeFile(t, wrapper, "#!/bin/sh\necho $$ >> "+pids+"\nexec "+sftpServer+" \"$@\"\n", 0755)

	link := newSlowLink(t, 0)
	m := mountThrough(t, link, "-o", "sftp_server="+wrapper+",timeout=20")
	old := bytes.Repeat([]byte("old!"), 1<<19) // 2 MiB
	newer := bytes.Repeat([]byte("NEW."), 1<<19)

	f, err := os.OpenFile(filepath.Join(m.mnt, "f"), os.O_RDWR|os.O_CREATE, 0644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil { // the file exists on the server
		t.Fatal(err)
	}
	running := serverPIDs(t, pids)
	for _, pid := range running {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	woken := make(chan struct{})
	defer func() { <-woken }()
	if _, err := f.WriteAt(old, 0); err != nil { // write-behind: returns before the server has it
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // sshd fills the stopped servers' pipes
	link.reset(t)
	time.AfterFunc(400*time.Millisecond, func() {
		defer close(woken)
		for _, pid := range running {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	if _, err := f.WriteAt(newer, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	<-woken
	// The old servers run what they had, then die writing the answer.
	waitFor(10*time.Second, func() bool {
		for _, pid := range running {
			if syscall.Kill(pid, 0) == nil {
				return false
			}
		}
		return true
	})
	got, err := os.ReadFile(filepath.Join(m.remote, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, newer) {
		i := 0
		for i < len(got) && i < len(newer) && got[i] == newer[i] {
			i++
		}
		t.Fatalf("the server's file (%d bytes) differs from the newer write from byte %d: %q", len(got), i, got[i:min(len(got), i+16)])
	}
}

// serverPIDs reads the PIDs the sftp-server wrapper recorded.
func serverPIDs(t *testing.T, file string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(readFile(t, file)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		t.Fatal("the sftp-server wrapper recorded no run")
	}
	return pids
}
