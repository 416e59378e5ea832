package sshconf

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// expander does ssh_config's ~ and % expansion (ssh_config(5), TOKENS).
type expander struct {
	alias, host, user, localUser, home string
	port                               int
	hostKeyAlias, jump                 string // %k (else the host), %j
}

func (x expander) expand(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(x.home)
		case 'h':
			if x.host != "" {
				b.WriteString(x.host)
			} else {
				b.WriteString(x.alias)
			}
		case 'n':
			b.WriteString(x.alias)
		case 'p':
			b.WriteString(strconv.Itoa(x.port))
		case 'r':
			b.WriteString(x.user)
		case 'u':
			b.WriteString(x.localUser)
		case 'i':
			b.WriteString(strconv.Itoa(os.Getuid()))
		case 'l':
			h, _ := os.Hostname()
			b.WriteString(h)
		case 'L':
			h, _ := os.Hostname()
			short, _, _ := strings.Cut(h, ".")
			b.WriteString(short)
		case 'k':
			if x.hostKeyAlias != "" {
				b.WriteString(x.hostKeyAlias)
			} else {
				b.WriteString(x.expand("%h"))
			}
		case 'j':
			b.WriteString(x.jump)
		case 'C':
			// ssh's hash of %l%h%p%r%j, as in ControlPath.
			sum := sha1.Sum([]byte(x.expand("%l%h%p%r%j")))
			b.WriteString(hex.EncodeToString(sum[:]))
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// path expands tokens and a leading ~. Paths from the command line were
// made absolute before the background process left the user's directory.
func (x expander) path(p string) string {
	p = x.expand(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		p = filepath.Join(x.home, p[1:])
	}
	return p
}

func (x expander) paths(list string) []string {
	var out []string
	for _, p := range strings.Fields(list) {
		if strings.EqualFold(p, "none") {
			continue
		}
		out = append(out, x.path(p))
	}
	return out
}
