package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/remote"
)

// Getattr answers from the parent folder's listing. The root answers
// from its stored listing, or with plain folder attributes when nothing is
// known yet, so that the mountpoint itself never fails to stat.
func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r := rootOf(&n.Inode)
	p := serverPath(&n.Inode)
	_, parent := n.Parent()
	detached := parent == nil && n.lib != nil // unlinked or replaced while open (a Root has no lib)
	gone, kept := n.goneAttr()
	if _, isFile := fh.(*fileHandle); detached && kept && !isFile {
		// A folder (or a file without its handle) that lost its name:
		// what it was, not what now has the name.
		out.Attr = gone
		out.Nlink = 0
		out.SetTimeout(r.ttl)
		return 0
	}
	if fh, ok := fh.(*fileHandle); ok && (fh.wh != nil || detached) {
		// Staged (also after unlink or rename of the open file), or a
		// read handle on a file that is gone.
		if fh.wh != nil {
			r.fillAttr(fh.wh.Entry(), &out.Attr)
		} else {
			e, _ := r.cache.Cached(fh.path)
			e.Path, e.Size, e.IsDir = fh.path, fh.h.Size(), false
			r.fillAttr(e, &out.Attr)
		}
		if detached && kept {
			out.Mode = out.Mode&^0o7777 | gone.Mode&0o7777
			out.Uid, out.Gid = gone.Uid, gone.Gid
		}
		if detached || (fh.wh != nil && fh.wh.Unlinked()) {
			out.Nlink = 0
		}
		out.SetTimeout(r.ttl)
		return 0
	} else if ok {
		// An open file keeps the size of the version it reads.
		if e, ok := r.cache.Cached(p); ok && fh.h.Size() == e.Size {
			r.fillAttr(e, &out.Attr)
			out.SetTimeout(r.ttl)
			return 0
		}
	}
	e, err := r.cache.Stat(ctx, p)
	if err != nil {
		if p == "/" {
			r.fillAttr(remote.Entry{Path: "/", IsDir: true}, &out.Attr)
			out.SetTimeout(r.ttl)
			return 0
		}
		return r.fail(ctx, "getattr", p, err)
	}
	r.fillAttr(e, &out.Attr)
	out.SetTimeout(r.ttl)
	return 0
}

// statfsBlock is the block size Statfs reports in.
const statfsBlock = 4096

// unknownTotal is the size shown when the server reports no quota.
const unknownTotal = 1 << 50 // 1 PiB

// Statfs reports the library's quota when the server gives one, else a
// large free space (1 PiB) so that tools do not refuse to copy.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	r := rootOf(&n.Inode)
	q, _ := r.cache.Quota(ctx)
	total, free := int64(unknownTotal), int64(unknownTotal)
	if q.Known {
		total, free = q.Used+q.Available, q.Available
	}
	out.Bsize = statfsBlock
	out.Frsize = statfsBlock
	out.Blocks = uint64(total / statfsBlock)
	out.Bfree = uint64(free / statfsBlock)
	out.Bavail = out.Bfree
	out.Files = 1 << 30
	out.Ffree = 1 << 30
	out.NameLen = 255
	return 0
}
