package remotetest

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
)

// Quirks make a Server's server behave as one other than OpenSSH's may:
// name fewer extensions, refuse changes of attributes, take only writes
// at a file's end. The client sees them on the wire as it would from
// such a server; the served directory is as the real server left it.
type Quirks struct {
	// Without are extensions the VERSION reply does not name ("*": all).
	Without []string
	// SetstatStatus, when not 0, answers every SETSTAT and FSETSTAT with
	// that status (SSH_FX_OP_UNSUPPORTED, SSH_FX_FAILURE...), unsent.
	SetstatStatus uint32
	// AppendOnly answers SSH_FX_OP_UNSUPPORTED, unsent, to a WRITE that
	// is not at the end of its file (as servers that store whole uploads
	// do).
	AppendOnly bool
}

// ServeWith is Serve with quirks.
func ServeWith(dir string, q Quirks) *Server { return &Server{dir: dir, quirks: &q} }

// OpenSSHServer is where Debian installs OpenSSH's sftp-server.
const OpenSSHServer = "/usr/lib/openssh/sftp-server"

// ServeOpenSSH serves dir with OpenSSH's own sftp-server, run for each
// stream (its start directory is dir: give the client absolute paths),
// with quirks: a server whose calls are OpenSSH's (its rename refuses an
// existing name, its errors are errno_to_portable's) but which lacks
// what the quirks take away.
func ServeOpenSSH(dir string, q Quirks) *Server {
	return &Server{dir: dir, quirks: &q, openssh: true}
}

// startOpenSSH runs sftp-server on pipes; stop ends it.
func startOpenSSH(dir string) (r io.Reader, w io.WriteCloser, stop func(), err error) {
	cmd := exec.Command(OpenSSHServer, "-d", dir, "-e", "-l", "QUIET")
	if w, err = cmd.StdinPipe(); err != nil {
		return nil, nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return out, w, func() { w.Close(); cmd.Process.Kill(); cmd.Wait() }, nil
}

// SFTP packet types and the status the quirks read or answer.
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpen     = 3
	fxpWrite    = 6
	fxpSetstat  = 9
	fxpFsetstat = 10
	fxpStatus   = 101
	fxpHandle   = 102

	fxOpUnsupported = 8
)

// quirked is one stream's filter between the client (c) and the server
// (s): it reads whole packets each way, rewrites the VERSION reply, and
// answers what the quirks refuse itself.
type quirked struct {
	q       *Quirks
	toC     io.Writer
	toCMu   sync.Mutex        // one packet at a time to the client
	mu      sync.Mutex        // guards opens, handles, ends
	opens   map[uint32]string // OPEN request id -> path
	handles map[string]string // handle -> path
	ends    map[string]uint64 // handle -> end of the writes let through
}

// filter runs q between the client's side (fromC, toC) and the server's
// (fromS, toS) until either side ends.
func filter(q *Quirks, fromC io.Reader, toC io.WriteCloser, fromS io.Reader, toS io.WriteCloser) {
	f := &quirked{q: q, toC: toC, opens: map[uint32]string{}, handles: map[string]string{}, ends: map[string]uint64{}}
	go func() {
		defer toS.Close()
		for {
			p, err := readPacket(fromC)
			if err != nil {
				return
			}
			if reply := f.request(p); reply != nil {
				f.send(reply)
				continue
			}
			if _, err := toS.Write(p); err != nil {
				return
			}
		}
	}()
	go func() {
		defer toC.Close()
		for {
			p, err := readPacket(fromS)
			if err != nil {
				return
			}
			if f.send(f.reply(p)) != nil {
				return
			}
		}
	}()
}

func (f *quirked) send(p []byte) error {
	f.toCMu.Lock()
	defer f.toCMu.Unlock()
	_, err := f.toC.Write(p)
	return err
}

// request answers p itself when a quirk refuses it (nil: send it on).
func (f *quirked) request(p []byte) []byte {
	typ, id := p[4], be32(p, 5)
	switch {
	case typ == fxpOpen:
		if name, _, ok := str(p, 9); ok {
			f.mu.Lock()
			f.opens[id] = name
			f.mu.Unlock()
		}
	case (typ == fxpSetstat || typ == fxpFsetstat) && f.q.SetstatStatus != 0:
		return status(id, f.q.SetstatStatus)
	case typ == fxpWrite && f.q.AppendOnly:
		h, rest, ok := str(p, 9)
		if !ok || len(p) < rest+12 {
			return nil
		}
		off, n := binary.BigEndian.Uint64(p[rest:]), uint64(be32(p, rest+8))
		f.mu.Lock()
		defer f.mu.Unlock()
		end, seen := f.ends[h]
		if fi, err := os.Stat(f.handles[h]); err == nil && !seen {
			end = uint64(fi.Size())
		}
		if off != end {
			return status(id, fxOpUnsupported)
		}
		f.ends[h] = off + n
	}
	return nil
}

// reply rewrites the server's packet p for the client.
func (f *quirked) reply(p []byte) []byte {
	typ := p[4]
	switch typ {
	case fxpVersion:
		return f.version(p)
	case fxpHandle:
		id := be32(p, 5)
		if h, _, ok := str(p, 9); ok {
			f.mu.Lock()
			if name, ok := f.opens[id]; ok {
				f.handles[h] = name
				delete(f.opens, id)
			}
			f.mu.Unlock()
		}
	}
	return p
}

// version is the VERSION reply p without the extensions q takes away.
func (f *quirked) version(p []byte) []byte {
	out := slices.Clone(p[:9]) // length, type, version
	for at := 9; at < len(p); {
		name, next, ok := str(p, at)
		if !ok {
			break
		}
		data, after, ok := str(p, next)
		if !ok {
			break
		}
		at = after
		if slices.Contains(f.q.Without, "*") || slices.Contains(f.q.Without, name) {
			continue
		}
		out = appendStr(appendStr(out, name), data)
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

func status(id, code uint32) []byte {
	p := []byte{0, 0, 0, 0, fxpStatus}
	p = binary.BigEndian.AppendUint32(p, id)
	p = binary.BigEndian.AppendUint32(p, code)
	p = appendStr(appendStr(p, "refused by remotetest's quirks"), "")
	binary.BigEndian.PutUint32(p, uint32(len(p)-4))
	return p
}

// readPacket reads one whole packet, its length included.
func readPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 5 || n > 1<<24 {
		return nil, errors.New("remotetest: bad packet length")
	}
	p := make([]byte, 4+n)
	copy(p, hdr[:])
	_, err := io.ReadFull(r, p[4:])
	return p, err
}

func be32(p []byte, at int) uint32 {
	if len(p) < at+4 {
		return 0
	}
	return binary.BigEndian.Uint32(p[at:])
}

// str reads the SFTP string at p[at:], and where the next field starts.
func str(p []byte, at int) (string, int, bool) {
	if len(p) < at+4 {
		return "", 0, false
	}
	n := int(binary.BigEndian.Uint32(p[at:]))
	if len(p) < at+4+n {
		return "", 0, false
	}
	return string(p[at+4 : at+4+n]), at + 4 + n, true
}

func appendStr(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(b, uint32(len(s))), s...)
}
