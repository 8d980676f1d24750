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
// that was current at open (h), or, for a file opened for writing or
// whose upload is pending, a staging handle (wh).
type fileHandle struct {
	h        *cache.Handle
	wh       *cache.WriteHandle
	writable bool // opened for writing (a read-only open of a pending file is not)
	path     string
	root     *Root
	// ino and passthrough: how the open was recorded in Root.kio
	// (kernelio.go); Release undoes it.
	ino         uint64
	passthrough bool
}

var (
	_ = (fs.FileReader)((*fileHandle)(nil))
	_ = (fs.FileWriter)((*fileHandle)(nil))
	_ = (fs.FileFlusher)((*fileHandle)(nil))
	_ = (fs.FileFsyncer)((*fileHandle)(nil))
	_ = (fs.FileReleaser)((*fileHandle)(nil))
)

// Read reads from the content cache (downloading what is missing) or
// from staging.
func (f *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if st := f.root.opts.Stats; st != nil {
		st.Reads.Add(1)
	}
	if f.wh == nil {
		// Cached content goes from the cached file to the kernel's
		// reply (splice where the kernel has it) without a copy here.
		onRead := f.root.opts.OnRead
		hit := onRead == nil || f.h.Cached(off, len(dest))
		file, n, err := f.h.ReadSpliced(ctx, dest, off)
		if onRead != nil && n > 0 {
			onRead(hit, n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, f.root.fail(ctx, "read", f.path, err)
		}
		if file != nil {
			return fuse.ReadResultFd(file.Fd(), off, n), 0
		}
		return fuse.ReadResultData(dest[:n]), 0
	}
	n, err := f.wh.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, f.root.fail(ctx, "read", f.path, err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write writes to the staging file.
func (f *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if f.wh == nil {
		return 0, syscall.EBADF
	}
	if errno := f.root.checkFileSize(ctx, "write", f.wh.Path(), off+int64(len(data))); errno != 0 {
		return 0, errno
	}
	n, err := f.wh.WriteAt(ctx, data, off)
	if err != nil {
		return uint32(n), f.root.fail(ctx, "write", f.wh.Path(), err)
	}
	return uint32(n), 0
}

// Flush runs at every close(): the staged data is fsynced and journaled
// before it returns (with --sync-upload, uploaded). This is where upload
// errors reach the application; Release's result is ignored by go-fuse.
func (f *fileHandle) Flush(ctx context.Context) syscall.Errno {
	if f.wh == nil || !f.writable {
		return 0
	}
	if err := f.wh.Flush(ctx); err != nil {
		return f.root.fail(ctx, "close", f.wh.Path(), err)
	}
	return 0
}

// Fsync is Flush for fsync(2) and fdatasync(2).
func (f *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if f.wh == nil || !f.writable {
		return 0
	}
	if err := f.wh.Fsync(ctx); err != nil {
		return f.root.fail(ctx, "fsync", f.wh.Path(), err)
	}
	return 0
}

// Release closes the handle; the upload is queued after --write-back.
func (f *fileHandle) Release(ctx context.Context) syscall.Errno {
	defer f.root.closed(f.ino, f.passthrough)
	if st := f.root.opts.Stats; st != nil {
		defer st.Releases.Add(1)
	}
	if f.wh != nil {
		f.wh.Close()
		return 0
	}
	f.h.Close()
	return 0
}
