package main

import (
	"strings"
	"testing"
)

// --help is made from the option table, and names every option by each
// of its names: those of sftpmount, ssh_config's keywords and sshfs's
// spellings; sshfs's compatibility options (a notice or a refusal) are
// summed up by its last paragraph instead.
func TestHelpNamesEveryOption(t *testing.T) {
	sections := map[string]bool{}
	for _, s := range helpSections {
		sections[s.name] = true
	}
	for _, row := range optionTable {
		names := optionNames(row)
		if row.compat != nil {
			if row.section != "" && row.usage == "" {
				t.Errorf("%v: a compatibility option in a section without a line of its own", names)
			}
			continue
		}
		if !sections[row.section] {
			t.Errorf("%v: section %q is not one of --help's", names, row.section)
		}
		if len(names) == 0 && row.usage == "" {
			t.Errorf("a row with neither a name nor a help line")
		}
		for _, n := range names {
			if !namesOption(helpText, n) {
				t.Errorf("--help does not name %s", n)
			}
		}
	}
	if !strings.Contains(helpText, "Options written for the C sshfs are accepted where they apply") {
		t.Error("--help does not sum up sshfs's compatibility options")
	}
}

// Every -o name has one row, found whatever its case, and every row but
// the flags and help lines of their own applies something.
func TestEveryOptionHasOneRow(t *testing.T) {
	for _, row := range optionTable {
		for _, n := range optionNames(row) {
			if strings.HasPrefix(n, "-") {
				continue
			}
			if got := optionsByName[strings.ToLower(n)]; got == nil || got.apply == nil {
				t.Errorf("-o %s has no row that applies it", n)
			}
			if got := optionsByName[strings.ToUpper(n)]; got != nil {
				t.Errorf("the index holds %s in upper case", n)
			}
		}
	}
	o := defaultOptions()
	if err := o.setOption("Dcache_Timeout=7"); err != nil || o.Cache.Stat.Seconds() != 7 {
		t.Errorf("a name in another case: %v, %v", err, o.Cache.Stat)
	}
}
