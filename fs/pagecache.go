package fs

import (
	"github.com/sftpmount/sftpmount/remote"
)

// The kernel's page cache is kept across opens (FOPEN_KEEP_CACHE) only
// while the file's size and mtime are what they were when the pages were
// filled, and nothing of ours has written the file since: git, compilers
// and `cat` read the same files again and again. Another client's change
// shows in the attributes once the cache timeout has passed, and then the
// pages are dropped at the next open.

// keepPages reports whether pages cached under attributes a are still
// good, and records a as what the pages hold from this open on.
func (n *Node) keepPages(a remote.Attr) bool {
	keep := n.pagesHold(a)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pages = &a
	return keep
}

// pagesHold reports whether pages cached under attributes a are still
// good, as keepPages does, without recording anything.
func (n *Node) pagesHold(a remote.Attr) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pages != nil && n.pages.Size == a.Size && remote.SameMtime(n.pages.Mtime, a.Mtime)
}

// dropPages forgets what the pages hold: after a write or a change of
// size or times of ours, the server's mtime is not known here.
func (n *Node) dropPages() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pages = nil
}
