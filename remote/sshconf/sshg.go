package sshconf

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// With OpenSSH's client installed, the files are read by it: `ssh -G`
// prints the settings ssh would use for a host, after every Host and
// Match block (all, canonical, final, exec, host, originalhost, user,
// localuser, localnetwork, tagged, negated), Include, and the final pass,
// exactly as ssh evaluates them (Match exec runs its command, as ssh
// does). A keyword counts as set when its value differs from what ssh -G
// prints with no files at all: then sftpmount's own defaults (a connect
// timeout, keepalives) stay where the user set nothing. Without ssh, the
// files are parsed by kevinburke/ssh_config, which knows Host, Include
// and Match all/host only, and refuses other Match lines.

// sshG holds ssh -G's answer for one host, and the answer without files.
type sshG struct {
	values, base map[string][]string

	ssh, alias string
	usual      bool                // the user's file and the system's, not -F's
	userFile   string              // the user's own file, when usual and it exists
	user       map[string][]string // userFile alone, read when first needed
}

// sshGTimeout bounds ssh -G, whose Match exec commands are the user's.
const sshGTimeout = 30 * time.Second

// runSSHG asks ssh for alias's settings: files is -F's file, or "" for
// the user's and the system's files; over the command line's keywords.
func runSSHG(ssh, alias, files, home string, over Overrides) (*sshG, error) {
	usual := files == "" // the user's file and the system's
	if usual {
		// ssh would read the passwd entry's home; ours is $HOME, so
		// the user's file is named, with the system's after it.
		f, err := os.CreateTemp("", "sftpmount-ssh-config-")
		if err != nil {
			return nil, err
		}
		defer os.Remove(f.Name())
		var b bytes.Buffer
		if user := filepath.Join(home, ".ssh", "config"); exists(user) {
			fmt.Fprintf(&b, "Include %q\n", user)
		}
		if exists(systemConfig) {
			b.WriteString("Include " + systemConfig + "\n")
		}
		f.Write(b.Bytes())
		f.Close()
		files = f.Name()
	}
	var args []string
	keys := make([]string, 0, len(over))
	for k := range over {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range over[k] {
			args = append(args, "-o", k+"="+v)
		}
	}
	values, err := sshGOnce(ssh, append(append([]string{"-F", files}, args...), alias))
	if err != nil {
		return nil, err
	}
	base, err := sshGOnce(ssh, []string{"-F", "/dev/null", alias})
	if err != nil {
		return nil, err
	}
	g := &sshG{values: values, base: base, ssh: ssh, alias: alias, usual: usual}
	if u := filepath.Join(home, ".ssh", "config"); usual && exists(u) {
		g.userFile = u
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" && u.HomeDir != home {
		g.rehome(u.HomeDir, home)
	}
	return g, nil
}

// pathSettings are the keywords whose values are local paths.
var pathSettings = []string{"identityfile", "certificatefile", "userknownhostsfile", "globalknownhostsfile", "identityagent", "revokedhostkeys", "controlpath"}

// rehome gives paths ssh expanded with the passwd entry's home (~, %d)
// the home sftpmount was given ($HOME) instead.
func (g *sshG) rehome(pw, home string) {
	for _, m := range []map[string][]string{g.values, g.base} {
		for _, k := range pathSettings {
			for i, v := range m[k] {
				fields := strings.Fields(v)
				for j, f := range fields {
					if f == pw || strings.HasPrefix(f, pw+"/") {
						fields[j] = home + f[len(pw):]
					}
				}
				m[k][i] = strings.Join(fields, " ")
			}
		}
	}
}

func sshGOnce(ssh string, args []string) (map[string][]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sshGTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ssh, append([]string{"-G"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		// ssh's own reasons, without its closing "terminating" line.
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Pseudo-terminal") && !strings.Contains(l, "terminating, ") {
				lines = append(lines, l)
			}
		}
		msg := strings.Join(lines, "; ")
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("reading the ssh config with %s -G: %s", ssh, msg)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok {
			m[k] = append(m[k], v)
		}
	}
	return m, nil
}

// set returns keyword's values when the files (or command line) set them.
func (g *sshG) set(keyword string) ([]string, bool) {
	k := strings.ToLower(keyword)
	v, ok := g.values[k]
	if !ok || slices.Equal(v, g.base[k]) {
		return nil, false
	}
	return v, true
}

// userSet reports whether the user's own file sets keyword, when the
// system's file is read after it: what the system's file sets alone is
// the system's default, not the user's choice.
func (g *sshG) userSet(keyword string) bool {
	if !g.usual {
		return true // -F's file: all the user's
	}
	if g.userFile == "" {
		return false
	}
	if g.user == nil {
		g.user, _ = sshGOnce(g.ssh, []string{"-F", g.userFile, g.alias})
		if g.user == nil {
			g.user = map[string][]string{}
		}
	}
	k := strings.ToLower(keyword)
	v, ok := g.user[k]
	return ok && !slices.Equal(v, g.base[k])
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
