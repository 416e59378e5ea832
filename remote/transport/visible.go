package transport

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// visible makes what a server sends for the terminal harmless, as
// OpenSSH's strnvis does for keyboard-interactive's name, instruction
// and prompts: printable text, newlines and tabs pass; any other control
// character (an escape sequence that would move the cursor, retitle the
// window or fake a prompt) and any byte that is not UTF-8 is shown as
// \ooo octal, a backslash as \\.
func visible(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n' || r == '\t' || (r != utf8.RuneError || n > 1) && unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\%03o", c)
			}
		}
		i += n
	}
	return b.String()
}
