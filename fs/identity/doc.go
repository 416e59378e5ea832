// Package identity chooses which node answers for a name, and its inode
// number. SFTP v3 has no inode numbers, yet the kernel, a shell's cwd,
// git's index and `find`'s loop check all tell objects apart by them.
// go-fuse gives back the live *Inode for a StableAttr it already holds,
// so the kernel keeps its dentry (and whatever holds it) only when a
// lookup answers with the same (type, Ino, Gen). Every node's number is
// therefore chosen here:
//
//   - a name that already has a live node of the same type gets that node,
//     after any cache timeout, readdir or reconnect (the table is the
//     authority, not the kernel's dentry cache);
//   - a new node gets InoOf(parent's number, name, 0): the same path gets
//     the same number after a remount, so an unchanged tree looks
//     unchanged to git, rsync --link-dest and backup tools. A number
//     already held by a live node (a renamed file, an unlinked file still
//     open, a hash collision) is skipped for the next probe, so numbers
//     are unique among the nodes anything can reach;
//   - a rename moves the node (go-fuse moves it in the tree): it keeps its
//     number, and so does everything under a moved directory, because a
//     child's number derives from its parent's number, not its path;
//   - a link made through the mount is the same node under two names;
//     names the server said are one file are one node too (objects.go);
//   - a name whose type changed on the server, or that the server no
//     longer has, loses its node: the next lookup makes a new one.
//
// Gen counts how often a number was given again while an earlier holder
// still lived (see freeIno); a number whose holder was forgotten starts
// again at 0, as no kernel reference to the old object is left.
//
// Entries are dropped when go-fuse forgets the node (Forget), so the
// table holds only what the kernel still references; and a directory
// holding more than its bound of nodes queues its older names to be
// handed back to the kernel (shed.go).
//
// The package knows nodes only as the N its caller gives (fs's *Node,
// which embeds an Entry) and never calls go-fuse, the server or the
// kernel: it decides, and fs acts on the decision (makes the go-fuse
// inode, asks the server, sends the kernel its notices).
//
// # Locking
//
// One mutex, Table.mu, guards every map of the Table and every field of
// every Entry; only this package touches them. Nothing outside the
// package is called while it is held: no callback, no go-fuse call, no
// remote or disk I/O, no logging, no other lock. Where a decision needs
// what only the caller can find out (which file the server said a path
// is, an inode go-fuse must make), the method returns what it needs
// (Result.Ask, Result.Ino) without deciding, and the caller calls again
// with it; a decision is always made whole under one hold of mu.
// Callers may hold their own locks when they call in (the table's lock
// is then the innermost); they must not expect it to be held between
// calls.
package identity
