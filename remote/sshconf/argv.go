package sshconf

import (
	"errors"
	"strings"
)

// splitArgv splits a command line into words as OpenSSH's argv_split
// does, for commands it runs without a shell (KnownHostsCommand): words
// are separated by spaces and tabs; single or double quotes group, and
// a backslash escapes the next character (within quotes, only a quote or
// a backslash).
func splitArgv(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case c == '\\' && i+1 < len(s) && (quote == 0 || s[i+1] == quote || s[i+1] == '\\'):
			i++
			c = s[i]
		case quote == 0 && (c == '\'' || c == '"'):
			quote, inWord = c, true
			continue
		case c == quote:
			quote = 0
			continue
		}
		cur.WriteByte(c)
		inWord = true
	}
	if quote != 0 {
		return nil, errors.New("unclosed quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
