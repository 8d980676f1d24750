package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Open opens a file. For reading, nothing is downloaded until it is read;
// a file whose whole content is cached is served by the kernel
// (kernelio.go). For writing (or when the file has an upload pending),
// the handle works on a staging file; without O_TRUNC the server's
// content is fetched into it when first needed.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	r := rootOf(&n.Inode)
	p := serverPath(&n.Inode)
	if n.IsDir() {
		return nil, 0, syscall.EISDIR
	}
	ino := n.StableAttr().Ino
	write := flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0
	if write || r.cache.Pending(p) {
		if errno := r.cachedMode(ino); errno != 0 {
			return nil, 0, r.refusedBusy(ctx, "open", p)
		}
		wh, err := r.cache.OpenWrite(ctx, p, false, false, flags&syscall.O_TRUNC != 0 && write)
		if err != nil {
			r.closed(ino, false)
			return nil, 0, r.fail(ctx, "open", p, err)
		}
		if st := r.opts.Stats; st != nil {
			st.Opens.Add(1)
		}
		return &fileHandle{wh: wh, writable: write, path: p, root: r, ino: ino}, 0, 0
	}
	h, err := r.cache.Open(ctx, p)
	if err != nil {
		return nil, 0, r.fail(ctx, "open", p, err)
	}
	f, oflags, errno := r.readMode(ino, h)
	if errno != 0 {
		h.Close()
		return nil, 0, r.refusedBusy(ctx, "open", p)
	}
	fh := &fileHandle{h: h, path: p, root: r, ino: ino}
	st := r.opts.Stats
	if st != nil {
		st.Opens.Add(1)
	}
	switch {
	case f != nil:
		if st != nil {
			st.PassthroughOpens.Add(1)
		}
		r.log.Debug("open: passthrough", "path", p, "version", h.Version())
		fh.passthrough = true
		return &ptHandle{fileHandle: fh, fd: int(f.Fd())}, oflags, 0
	case oflags&fuse.FOPEN_KEEP_CACHE != 0:
		if st != nil {
			st.KeepCacheOpens.Add(1)
		}
		r.log.Debug("open: keep_cache", "path", p, "version", h.Version())
	}
	return fh, oflags, 0
}
