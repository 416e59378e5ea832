package fs

import "github.com/sftpmount/sftpmount/remote"

// Link counts. SFTP v3's attributes carry none; OpenSSH's READDIR replies
// do, in each name's ls -l style long name, which the listing keeps in
// Attr.Nlink. f.links holds them by path for the attribute cache's
// timeout, so that attributes fetched again by name (lstat tells no
// count) still show it, and our own link, unlink, mkdir and rmdir move it
// on. Another client's links show at the next listing, within the
// attribute timeout. Where no listing has told, st_nlink is the names
// this mount knows the node by: 1, or more for links made through it
// (showLinks).

// withLinks is a with the link count the last listing told, as our own
// changes since have moved it on.
func (f *FS) withLinks(rel string, a remote.Attr) remote.Attr {
	if k, ok := f.links.Get(rel); ok {
		a.Nlink = k
	}
	return a
}

// linkGone notes that a name of a file also known at others, whose count
// was k, was removed: their count is one less.
func (f *FS) linkGone(k uint32, others []string) {
	if k < 2 {
		return
	}
	for _, p := range others {
		f.links.Put(p, k-1)
	}
}

// subdirs moves dir's count on by delta: a subdirectory made or removed
// (its ".." is a link to dir).
func (f *FS) subdirs(dir string, delta int) {
	if k, ok := f.links.Get(dir); ok && int(k)+delta >= 2 {
		f.links.Put(dir, uint32(int(k)+delta))
	}
}
