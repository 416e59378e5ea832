// Package writeback is sftpmount's write-back (-o writeback): a file made
// through the mount is written into a local journal (Journal), and
// close(2) returns once its bytes and attributes are synced there, with
// no round trip at all: the create is answered here too. Uploads run in
// the background, many at once. Each goes to a temporary name beside the
// file (TempPrefix), which is renamed over the file's name once its
// bytes, mode and times are there: other clients see the whole file or
// nothing, and a crash half-way leaves only the temporary name, which the
// next upload replaces.
//
// While a file waits, the mount answers for it from the journal:
// lookups, stat, listings, reads, more writes, chmod, utimes and
// truncate. What must reach the server in order waits for the upload
// first: a rename of a file whose upload has begun, a rename or rmdir of
// a directory above waiting files, a hard link to one, fsync. A rename
// or unlink of a file not yet begun is done in the journal alone.
//
// An upload that finds something else at the name than what was there
// when the file was begun (another client made or changed it) does not
// replace it: the file goes to name.sftpmount-conflict-TIME beside it,
// and a line on stderr says so.
//
// An upload that fails is retried: at once after a lost connection (the
// client reconnects), and, for an error the server gave (no space, no
// permission), at `sftpmount sync`, at unmount, and at the next mount.
// Unmount waits for the queue and names every file not uploaded, which
// stays in the journal; the next mount of the same remote directory
// uploads it, with or without -o writeback.
//
// Only files made new are written back; writes to files that exist on
// the server go to it as without -o writeback.
//
// The package knows the mount only through two small interfaces: Remote
// (the server calls an upload makes) and Host (what the mount keeps of a
// path: its caches and the kernel's). Its files: queue.go (the files
// waiting and their states), record.go (the journal's records of them),
// upload.go (the workers, retries and the upload itself), dirtimes.go
// (a directory's times, set again after the uploads into it), status.go
// (what `sftpmount status` and `sync` show and do), journal.go and
// journaltrust.go (the journal on disk, and what makes it trusted).
//
// # Locking
//
// Queue.mu guards the queue: every File's state, record (File.e), counts
// and flags, the files by path, the order of uploads, the directory
// times and the counts of bytes; Queue.cond waits on it. Every lookup of
// the mount takes it (Queue.Attr), so nothing slow happens under it: no
// disk and no network I/O, and no call out to Host or Remote but four
// that read what the mount holds in memory (Host.NewFileOwner, Host.Mode,
// Host.Errno, Remote.LoginOwner; the first takes a cache's own lock,
// after mu). Two system calls on a File's bytes are made under it, as
// they wait for no disk on the local filesystem the journal is on: an
// fstat for its size, and the close of bytes no handle reads any more.
// Load opens and truncates the bytes it finds before it takes mu. The
// journal's writes (Journal.Record, Commit, Remove, each with its fsyncs)
// and the uploads run outside it, in this order:
//   - A record is written before what it protects is acted upon: save
//     copies a File's record under mu and writes it after, before the
//     upload that sends it begins (the worker saves a changed record
//     first) and before close(2) returns (Commit).
//   - File.saveMu is taken before mu, and held across the journal's
//     write: records of one file reach the journal in the order their
//     states were taken.
//   - A file dropped from the queue (unlink, replaced by a rename, gone
//     on the server) leaves mu first and its record after
//     (Journal.Remove). A crash between the two gives it back at the next
//     mount, as a crash just before the unlink would; a record still on
//     its way after the Remove is not written (the journal keeps the ids
//     it removed).
//   - A directory's times are put in the queue under mu and committed to
//     the journal after; the record before them is removed once the new
//     one is down.
//
// Journal has locks of its own (one per record, and the pool of files
// made ahead), taken after Queue.mu is let go, never before it.
//
// Queue.Close stops the workers, the recorder and every timer the queue
// set; an upload running then either ends (within the context Close is
// given) or is cut and left in the journal, its record whole, to be
// uploaded by the next mount.
package writeback
