package identity

import "path"

// A node's paths: its names, each joined to its directory's path, found
// by walking up the directories' own names to the root. A directory has
// one name (it cannot be linked); one that has none (removed, retired,
// replaced by another type) has no path, and neither has anything under
// it: no request can reach them by path.

// dirPath is the path of the directory numbered ino, relative to the
// root, if it has one. Caller holds mu.
func (t *Table[N]) dirPath(ino uint64) (string, bool) {
	var names []string
	for ino != Root {
		e := t.byIno[ino]
		if e == nil || len(e.places) == 0 {
			return "", false
		}
		names = append(names, e.places[0].Name)
		ino = e.places[0].Dir
	}
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}
	return path.Join(names...), true
}

// pathOf is the path of at, if its directory has one. Caller holds mu.
func (t *Table[N]) pathOf(at Place) (string, bool) {
	dir, ok := t.dirPath(at.Dir)
	if !ok {
		return "", false
	}
	return path.Join(dir, at.Name), true
}

// pathsOf are the paths of e's names whose directories have paths, but
// not's. Caller holds mu.
func (t *Table[N]) pathsOf(e *Entry[N], not *Place) []string {
	var out []string
	for _, p := range e.places {
		if not != nil && p == *not {
			continue
		}
		if rel, ok := t.pathOf(p); ok {
			out = append(out, rel)
		}
	}
	return out
}

// Names are how many names e has, and, when more than one, their paths
// (for st_nlink: see fs's showLinks).
func (t *Table[N]) Names(e *Entry[N]) (count int, paths []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(e.places) > 1 {
		paths = t.pathsOf(e, nil)
	}
	return len(e.places), paths
}

// OtherPaths are the paths, other than at's, at which the node at at is
// known (hard links made through the mount, or found to be one node).
func (t *Table[N]) OtherPaths(at Place) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.byPlace[at]
	if e == nil {
		return nil
	}
	return t.pathsOf(e, &at)
}

// Paths are e's paths, from the table's own names.
func (t *Table[N]) Paths(e *Entry[N]) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pathsOf(e, nil)
}
