package sshconf

import (
	"reflect"
	"testing"
)

func TestSplitArgvAsOpenSSH(t *testing.T) {
	for in, want := range map[string][]string{
		`/bin/cmd %H %K`:         {"/bin/cmd", "%H", "%K"},
		`cmd  'a b'  "c d" e\ f`: {"cmd", "a b", "c d", "e f"},
		`cmd "say \"hi\""`:       {"cmd", `say "hi"`},
		`cmd ''`:                 {"cmd", ""},
	} {
		got, err := splitArgv(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitArgv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitArgv(`cmd 'open`); err == nil {
		t.Error("unclosed quote accepted")
	}
}
