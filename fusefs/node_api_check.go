package fusefs

import "github.com/hanwen/go-fuse/v2/fs"

// The go-fuse interfaces a node implements.
var (
	_ = (fs.NodeLookuper)((*node)(nil))
	_ = (fs.NodeReaddirer)((*node)(nil))
	_ = (fs.NodeGetattrer)((*node)(nil))
	_ = (fs.NodeStatfser)((*node)(nil))
	_ = (fs.NodeOpener)((*node)(nil))
	_ = (fs.NodeSetattrer)((*node)(nil))
	_ = (fs.NodeCreater)((*node)(nil))
	_ = (fs.NodeMkdirer)((*node)(nil))
	_ = (fs.NodeMknoder)((*node)(nil))
	_ = (fs.NodeUnlinker)((*node)(nil))
	_ = (fs.NodeRmdirer)((*node)(nil))
	_ = (fs.NodeRenamer)((*node)(nil))
	_ = (fs.NodeSymlinker)((*node)(nil))
	_ = (fs.NodeLinker)((*node)(nil))
	_ = (fs.NodeGetxattrer)((*node)(nil))
	_ = (fs.NodeListxattrer)((*node)(nil))
	_ = (fs.NodeSetxattrer)((*node)(nil))
	_ = (fs.NodeRemovexattrer)((*node)(nil))
	_ = (fs.InodeEmbedder)((*Root)(nil))
)

// Left out on purpose:
//   - NodeReadlinker: a library holds no symbolic links.
//   - NodeAccesser: the mount uses default_permissions, so the kernel
//     checks modes itself.
//   - NodeOpendirer/NodeFsyncer/NodeFlusher: the file handle (file.go)
//     implements Flush and Fsync.
//   - NodeAllocater (fallocate), NodeCopyFileRanger, NodeLseeker
//     (SEEK_DATA/SEEK_HOLE) and locks: not meaningful for a library (file
//     locks stay local, handled by the kernel).
