package transport

// Prompter asks the person starting the mount: on the terminal, or through
// SSH_ASKPASS when there is none. Config.Prompter is nil when nobody can
// be asked (BatchMode, no terminal and no askpass); then nothing that
// needs an answer is attempted. It is used only while the first
// connection is made: a background reconnect never prompts.
type Prompter interface {
	// Secret asks for something typed without echo: a passphrase or a
	// password. The caller wipes the returned bytes after use.
	Secret(prompt string) ([]byte, error)
	// Ask asks a question answered with echo, such as whether to trust a
	// new host key.
	Ask(prompt string) (string, error)
	// Say shows a message that needs no answer (a server's instruction).
	Say(msg string)
}

// wipe overwrites a secret held in memory.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
