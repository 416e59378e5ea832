package transport

import (
	"strings"
	"testing"

	"github.com/sftpmount/sftpmount/remote/sshconf"
)

func TestVisibleShowsControlCharactersAsOctal(t *testing.T) {
	for in, want := range map[string]string{
		"Password: ":                      "Password: ",
		"Code\tfor\nalice:":               "Code\tfor\nalice:",
		"\x1b]0;owned\x07Password: ":      `\033]0;owned\007Password: `,
		"\x1b[2J\rroot's password: ":      `\033[2J\015root's password: `,
		"Mot de passe \u00e9t\u00e9 : ":   "Mot de passe \u00e9t\u00e9 : ",
		"\xc2\x9b31m C1 CSI, bad \xff":    `\302\23331m C1 CSI, bad \377`,
		`back\slash`:                      `back\\slash`,
		"\u202eRTL override is not print": `\342\200\256RTL override is not print`,
	} {
		if got := visible(in); got != want {
			t.Errorf("visible(%q) = %q, want %q", in, got, want)
		}
	}
}

// A server's keyboard-interactive name, instruction and prompts reach
// the person only made visible.
func TestKeyboardInteractiveTextFromTheServerIsMadeVisible(t *testing.T) {
	a := &authenticator{ep: &sshconf.Endpoint{}}
	p := &answers{replies: []string{"alice", "1234"}}
	_, err := a.keyboardInteractive(p)("\x1b]0;x\x07Login", "\x1b[2JType:", []string{"User\x1b[8m: ", "Code\r: "}, []bool{true, false})
	if err != nil {
		t.Fatal(err)
	}
	for _, asked := range p.asked {
		if strings.ContainsAny(asked, "\x1b\r\x07") {
			t.Errorf("raw control characters reached the person: %q", asked)
		}
	}
	if len(p.asked) != 3 || !strings.Contains(p.asked[0], `\033]0;x\007Login`) {
		t.Errorf("asked %q", p.asked)
	}
}
