package fusefs

import "github.com/hanwen/go-fuse/v2/fs"

// node is a file or folder. It holds nothing but its Inode: what it is
// comes from the cache by its path, and everything shared from Root.
type node struct {
	fs.Inode
}
