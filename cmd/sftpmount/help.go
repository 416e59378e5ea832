package main

import (
	"fmt"
	"regexp"
	"strings"
)

// helpText is what --help prints, made from the option table: each
// section's rows with a line of their own, in the table's order, then
// "also" lines naming the section's options that no line names (another
// spelling, a keyword the README explains), so that it names every
// option but sshfs's compatibility ones, which its last paragraph sums
// up.
var helpText = makeHelp()

const helpIntro = `usage: sftpmount [user@]host:[dir] MOUNTPOINT [-p PORT] [-F FILE] [-o opt,opt...] [-f] [-d]

Mounts dir on host (relative to the remote home unless it starts with /;
empty means the home) at MOUNTPOINT over SFTP. host may be an alias from
~/.ssh/config. Returns once the mount is ready; unmount with
fusermount3 -u MOUNTPOINT. The command line wins over ~/.ssh/config.
`

const helpOutro = `Options written for the C sshfs are accepted where they apply; the others
get a one-line notice or a refusal saying why (see the README). Exit codes:
0 mounted, 2 usage, 3 mountpoint, 4 connect, 5 host key, 6 authentication,
7 remote directory, 8 FUSE, 9 config, 130 interrupted.
`

// helpColumn is the width of a line's left column.
const helpColumn = 30

// helpWidth bounds an "also" line.
const helpWidth = 78

func makeHelp() string {
	lines := map[string]string{} // by section
	var all strings.Builder
	for _, row := range optionTable {
		if row.usage == "" {
			continue
		}
		var line string
		if len(row.usage) <= helpColumn {
			line = fmt.Sprintf("  %-*s %s\n", helpColumn, row.usage, row.text)
		} else {
			line = fmt.Sprintf("  %s  %s\n", row.usage, row.text)
		}
		lines[row.section] += line
		all.WriteString(line)
	}
	var b strings.Builder
	b.WriteString(helpIntro)
	for _, sec := range helpSections {
		fmt.Fprintf(&b, "\n%s\n%s", sec.heading, lines[sec.name])
		var unnamed []string
		for _, row := range optionTable {
			if row.section != sec.name || row.compat != nil {
				continue
			}
			for _, n := range optionNames(row) {
				if !namesOption(all.String(), n) {
					unnamed = append(unnamed, n)
				}
			}
		}
		line := "  also"
		for i, n := range unnamed {
			sep := " "
			if i > 0 {
				sep = ", "
			}
			if len(line)+len(sep)+len(n) > helpWidth {
				b.WriteString(line + ",\n")
				line, sep = "  also", " "
			}
			line += sep + n
		}
		if len(unnamed) > 0 {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("\n" + helpOutro)
	return b.String()
}

// optionNames are the names a row is given by: its ssh_config keyword,
// or its names.
func optionNames(row option) []string {
	if row.ssh != nil {
		return []string{row.ssh.name}
	}
	return row.names
}

// namesOption reports whether text names option name as a word of its
// own (dcache_timeout does not name cache_timeout).
func namesOption(text, name string) bool {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_-])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_])`).MatchString(text)
}
