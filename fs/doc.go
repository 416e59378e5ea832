// Package fs is sftpmount's go-fuse node tree: each kernel call is mapped
// onto remote operations (package remote) and the outcome onto an errno
// through errno.go, the one table. It knows nothing of SSH.
//
// Its rooms:
//   - root.go: Options, FS (the state every node of a mount shares) and
//     Node; api_check.go: the kernel calls a node serves.
//   - One file per group of kernel calls: lookup.go, attr.go (getattr,
//     setattr), dir.go and dirhandle.go (listings, mkdir, rmdir), open.go
//     and newfile.go (open, create), file.go (read, write, flush, fsync,
//     release), rename.go, link.go and symlinks.go, copyrange.go,
//     statfs.go, xattr.go.
//   - known.go: every cache of what the mount was told, and the only
//     verbs that change them: our own changes and the link counts they
//     move on; learned.go: what the server said, kept; fetch.go: the
//     rule that keeps an answer asked before a change of ours out of
//     them; attrcache.go, listing.go, absent.go and pagecache.go: single
//     caches.
//   - handles.go: every open handle, by node and by path, and quiesce,
//     which makes what the mount holds for a path land in one order;
//     held.go: a new file's attribute changes held until its data has
//     landed; spooled.go: handles of files waiting in the write-back
//     journal.
//   - The read side's accelerators: prefetch.go, statmany.go,
//     walkahead.go, and objects.go (which files names the server linked
//     are).
//   - identity.go and shed.go: the go-fuse side of fs/identity, which
//     decides which node answers for a name, and its number.
//   - writebackhost.go: the mount as fs/writeback (the write-back queue
//     and journal) sees it.
//   - lifecycle.go: Start and Close, and the owner of fs's goroutines.
//   - explain.go, owner.go, errno.go: errors and ownership as shown.
//
// # Locking
//
// The rule: no disk or network I/O, and no call into go-fuse (its
// Notify* write to the kernel; its tree has locks of its own), under a
// mount-wide lock: one on FS or on a table every node shares, which any
// kernel request may wait for. Such a lock is held for memory alone; a
// round trip, a journal write or a kernel notice runs on what was copied
// under it, once it is let go, or in a goroutine (notifier.send,
// background.Go). Logging is allowed. cache.Changes.Keep runs its store
// under the record's lock, and cache.Map.Range its fn under the Map's:
// those callbacks touch memory only.
//
// Locks are taken in this order, outermost first: none is taken while
// one after it is held. Locks on one line are never held together.
//
//  1. fileHandle.inUse (per handle)
//  2. heldChanges.turn (per new file)
//  3. writeback.File.saveMu (per file in the journal)
//  4. remote's own locks (fs calls remote holding only 1-3; remote enters
//     fs under them only to mark a write sent: cache.WriteBehind.mu)
//  5. objectTable.mu, absentRenewal.mu, walkAhead.mu, FS.prefetchMu,
//     statMany.mu, writeback.Queue.mu, notifier.mu
//  6. background.mu
//  7. handleTable.mu (under objectTable.mu: Changes.Keep asks Busy)
//  8. cache.ReadAhead.mu, cache.WriteBehind.mu (per handle)
//  9. cache.Changes.mu
//  10. cache.Map.mu, each cache's (the absent names' before the
//     listings', in askAgain's Range)
//  11. leaves, under which nothing is taken: Node.mu, listing.mu,
//     cache.Budget.mu, identity.Table.mu (fs/identity calls nothing out
//     under it), feedState.mu (asked under cache.Map.mu by a Map's
//     vouch and under cache.Changes.mu by Dropped), go-fuse's tree locks (only cache.ReadAhead.mu is held
//     when a handle's Size asks whether its node was unlinked), and
//     writeback.Journal's entry locks, then its poolMu.
//
// Exceptions to the rule, each with its reason:
//   - heldChanges.turn is held across round trips (stat, chown, chmod,
//     utimes) and the wait for the writes queued before them: changes
//     go right behind the data, in one order, one batch at a time. It is
//     one new file's, not mount-wide: only that file's writes, setattrs
//     and flushes wait for it, and a write held at the file's gate waits
//     for the lock or the gate, whichever comes first
//     (letDataGoUnlessHeld), never for a settle that waits for it.
//   - fileHandle.inUse is read-held by a setattr that borrows an open
//     handle (attr.go openFile) across its round trips, and held by
//     Release across the flush and the close: the remote handle is not
//     closed under the setattr. One handle's, not mount-wide.
//   - writeback.File.saveMu (one file's) and the journal's entry locks
//     (one record's, 64 of them by a hash of its id) are held across the
//     journal's writes and fsyncs, so that the records of one file reach
//     the journal in the order their states were taken. No lookup takes
//     either (fs/writeback's package comment).
//   - writeback.Queue.mu, which every lookup takes, covers an fstat of a
//     journal file's bytes (its size: Wrote, save, attrOf) and the
//     close(2) of bytes no handle reads any more: answered from memory,
//     with no wait for the disk, on the local filesystem the journal
//     lives on (the inode is in memory while the file is open; a close
//     does not flush).
package fs
