package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// Open opens a file for reading. Nothing is downloaded until it is read.
// Opening for writing answers EROFS until the write side lands.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	r := rootOf(&n.Inode)
	p := serverPath(&n.Inode)
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	if n.IsDir() {
		return nil, 0, syscall.EISDIR
	}
	h, err := r.cache.Open(ctx, p)
	if err != nil {
		return nil, 0, r.fail(ctx, "open", p, err)
	}
	return &fileHandle{h: h, path: p, root: r}, 0, 0
}
