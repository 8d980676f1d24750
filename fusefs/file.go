package fusefs

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/cache"
)

// fileHandle is an open file: a cache handle on the version of the file
// that was current at open.
type fileHandle struct {
	h    *cache.Handle
	path string
	root *Root
}

var (
	_ = (fs.FileReader)((*fileHandle)(nil))
	_ = (fs.FileReleaser)((*fileHandle)(nil))
)

// Read reads from the content cache, downloading what is missing.
func (f *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := f.h.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, f.root.fail(ctx, "read", f.path, err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Release closes the cache handle. Its cached data stays.
func (f *fileHandle) Release(ctx context.Context) syscall.Errno {
	f.h.Close()
	return 0
}
