package main

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	sftpfs "github.com/sftpmount/sftpmount/fs"
)

// sshfs's idmap=file: uidfile= and gidfile= name files of "name:id" lines,
// name a local user (group) and id the server's number for it; ids with no
// line make stat and chown fail with EPERM (nomap=error, sshfs's default),
// or with nomap=ignore are shown as they are. Blank lines and lines
// starting with '#' are skipped.

// idMaps reads the files -o uidfile= and gidfile= name, before anything
// is asked of the server; a bad line is one line on stderr (ExitConfig).
func (o *options) idMaps(owner *sftpfs.Owner) error {
	if o.IDMap != "file" {
		return nil
	}
	var err error
	if o.UIDFile != "" {
		if owner.UIDs, err = readIDMap(o.UIDFile, "user", func(name string) (string, error) {
			u, err := user.Lookup(name)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		}); err != nil {
			return err
		}
	}
	if o.GIDFile != "" {
		if owner.GIDs, err = readIDMap(o.GIDFile, "group", func(name string) (string, error) {
			g, err := user.LookupGroup(name)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		}); err != nil {
			return err
		}
	}
	owner.NoMapError = !o.NoMapIgnore
	return nil
}

func readIDMap(file, what string, local func(name string) (string, error)) (*sftpfs.IDMap, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fail(ExitConfig, fmt.Sprintf("%sfile: %v", what[:1]+"id", err))
	}
	defer f.Close()
	m := sftpfs.NewIDMap()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		bad := func(why string) error {
			return fail(ExitConfig, fmt.Sprintf("%s:%d: %s", file, line, why))
		}
		name, idText, ok := strings.Cut(text, ":")
		if !ok || name == "" {
			return nil, bad(fmt.Sprintf("want %s-name:remote-id, got %q", what, text))
		}
		remoteID, err := strconv.ParseUint(strings.TrimSpace(idText), 10, 32)
		if err != nil {
			return nil, bad(fmt.Sprintf("remote id %q is not a number", idText))
		}
		localText, err := local(strings.TrimSpace(name))
		if err != nil {
			return nil, bad(fmt.Sprintf("no local %s %q", what, name))
		}
		localID, err := strconv.ParseUint(localText, 10, 32)
		if err != nil {
			return nil, bad(fmt.Sprintf("local %s %q has id %q", what, name, localText))
		}
		m.Add(uint32(remoteID), uint32(localID))
	}
	if err := sc.Err(); err != nil {
		return nil, fail(ExitConfig, fmt.Sprintf("%s: %v", file, err))
	}
	return m, nil
}
