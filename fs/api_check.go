package fs

import fusefs "github.com/hanwen/go-fuse/v2/fs"

// The kernel calls a Node serves. Locks (getlk/setlk/flock) are left to
// the kernel, which then handles them locally: they are not shared with
// other clients of the server, since SFTP cannot express them.
var (
	_ = (fusefs.NodeLookuper)((*Node)(nil))
	_ = (fusefs.NodeGetattrer)((*Node)(nil))
	_ = (fusefs.NodeSetattrer)((*Node)(nil))
	_ = (fusefs.NodeOpendirHandler)((*Node)(nil))
	_ = (fusefs.NodeMkdirer)((*Node)(nil))
	_ = (fusefs.NodeRmdirer)((*Node)(nil))
	_ = (fusefs.NodeUnlinker)((*Node)(nil))
	_ = (fusefs.NodeOpener)((*Node)(nil))
	_ = (fusefs.NodeCreater)((*Node)(nil))
	_ = (fusefs.NodeMknoder)((*Node)(nil))
	_ = (fusefs.NodeRenamer)((*Node)(nil))
	_ = (fusefs.NodeSymlinker)((*Node)(nil))
	_ = (fusefs.NodeReadlinker)((*Node)(nil))
	_ = (fusefs.NodeLinker)((*Node)(nil))
	_ = (fusefs.NodeStatfser)((*Node)(nil))
	_ = (fusefs.NodeGetxattrer)((*Node)(nil))
	_ = (fusefs.NodeListxattrer)((*Node)(nil))
	_ = (fusefs.NodeSetxattrer)((*Node)(nil))
	_ = (fusefs.NodeRemovexattrer)((*Node)(nil))

	_ = (fusefs.FileReader)((*fileHandle)(nil))
	_ = (fusefs.FileWriter)((*fileHandle)(nil))
	_ = (fusefs.FileFlusher)((*fileHandle)(nil))
	_ = (fusefs.FileFsyncer)((*fileHandle)(nil))
	_ = (fusefs.FileReleaser)((*fileHandle)(nil))
	_ = (fusefs.FileGetattrer)((*fileHandle)(nil))

	_ = (fusefs.FileReaddirenter)((*dirHandle)(nil))
	_ = (fusefs.FileLookuper)((*dirHandle)(nil))
	_ = (fusefs.FileSeekdirer)((*dirHandle)(nil))
	_ = (fusefs.FileReleasedirer)((*dirHandle)(nil))
)
