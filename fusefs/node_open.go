package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// Open opens a file. For reading, nothing is downloaded until it is read.
// For writing (or when the file has an upload pending), the handle works
// on a staging file; without O_TRUNC the server's content is fetched into
// it when first needed.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	r := rootOf(&n.Inode)
	p := serverPath(&n.Inode)
	if n.IsDir() {
		return nil, 0, syscall.EISDIR
	}
	write := flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0
	if write || r.cache.Pending(p) {
		wh, err := r.cache.OpenWrite(ctx, p, false, false, flags&syscall.O_TRUNC != 0 && write)
		if err != nil {
			return nil, 0, r.fail(ctx, "open", p, err)
		}
		return &fileHandle{wh: wh, writable: write, path: p, root: r}, 0, 0
	}
	h, err := r.cache.Open(ctx, p)
	if err != nil {
		return nil, 0, r.fail(ctx, "open", p, err)
	}
	return &fileHandle{h: h, path: p, root: r}, 0, 0
}
