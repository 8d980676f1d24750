package fusefs

import (
	"context"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/internal/names"
	"github.com/odfb/odfb/remote"
)

// The write side. Every write lands in a staging file (cache); close and
// fsync journal it; the cache's uploader sends it to the server. Folders
// are created and removed on the server at once (one MKCOL / DELETE);
// renames and unlinks of files whose upload is pending only adjust the
// journal.

// childPath maps a new child's local name to its server path, refusing
// names the server cannot hold (EINVAL / ENAMETOOLONG) before any request.
// isDir says the child is a folder (SharePoint refuses more folder names).
func (r *Root) childPath(parent *fs.Inode, name string, isDir bool) (string, error) {
	if err := names.CheckLocal(name); err != nil {
		return "", err
	}
	srv := names.ToServer(name)
	if err := names.CheckNew(srv, isDir, serverPath(parent) == "/"); err != nil {
		return "", err
	}
	p := remote.Join(serverPath(parent), srv)
	if err := names.CheckPath(p, r.opts.PrefixChars); err != nil {
		return "", err
	}
	return p, nil
}

// Setattr: truncate (staged), utimens (kept in the journal and written to
// the server as the file's mtime), chmod and chown (accepted, kept in
// memory for this mount and shown, so that rsync -a and cp -p neither
// fail nor find a difference; the server stores neither).
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	r := rootOf(&n.Inode)
	p := serverPath(&n.Inode)
	f, _ := fh.(*fileHandle)
	if f != nil && f.wh != nil {
		p = f.wh.Path()
	}
	if sz, ok := in.GetSize(); ok {
		if n.IsDir() {
			return syscall.EISDIR
		}
		if errno := r.checkFileSize(ctx, "truncate", p, int64(sz)); errno != 0 {
			return errno
		}
		var err error
		if f != nil && f.wh != nil {
			err = f.wh.Truncate(ctx, int64(sz))
		} else {
			err = r.cache.Truncate(ctx, p, int64(sz))
		}
		if err != nil {
			return r.fail(ctx, "truncate", p, err)
		}
	}
	if mt, ok := in.GetMTime(); ok || in.Valid&fuse.FATTR_MTIME_NOW != 0 {
		if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
			mt = time.Now()
		}
		if err := r.cache.SetModTime(ctx, p, mt); err != nil {
			return r.fail(ctx, "utimens", p, err)
		}
	}
	m, setMode := in.GetMode()
	uid, setUID := in.GetUID()
	gid, setGID := in.GetGID()
	if setMode || setUID || setGID {
		r.local.update(p, func(a *localAttr) {
			if setMode {
				a.mode, a.hasMode = m&0o7777, true
			}
			if setUID {
				a.uid, a.hasUID = uid, true
			}
			if setGID {
				a.gid, a.hasGID = gid, true
			}
		})
	}
	return n.Getattr(ctx, fh, out)
}

// Create makes a new, empty staged file. It is journaled at close and
// uploaded with one PUT (If-None-Match: *).
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	r := rootOf(&n.Inode)
	p, err := r.childPath(&n.Inode, name, false)
	if err != nil {
		return nil, nil, 0, r.fail(ctx, "create", remote.Join(serverPath(&n.Inode), name), err)
	}
	ino := n.childIno(name, r.inoOf(p))
	if errno := r.cachedMode(ino); errno != 0 {
		return nil, nil, 0, r.refusedBusy(ctx, "create", p)
	}
	wh, err := r.cache.OpenWrite(ctx, p, true, flags&syscall.O_EXCL != 0, flags&syscall.O_TRUNC != 0)
	if err != nil {
		r.closed(ino, false)
		return nil, nil, 0, r.fail(ctx, "create", p, err)
	}
	// A new file starts with its create mode and no chown from an
	// earlier file of that name.
	r.local.update(p, func(a *localAttr) { *a = localAttr{mode: mode & 0o7777, hasMode: true} })
	r.local.touched(serverPath(&n.Inode))
	r.fillAttr(wh.Entry(), &out.Attr)
	out.SetEntryTimeout(r.ttl)
	out.SetAttrTimeout(r.ttl)
	ch := n.childInode(ctx, name, syscall.S_IFREG, &out.Attr)
	if out.Attr.Ino != ino {
		// Another create took the number meanwhile: the kernel-I/O record
		// follows the inode's number.
		r.closed(ino, false)
		ino = out.Attr.Ino
		r.cachedMode(ino)
	}
	if st := r.opts.Stats; st != nil {
		st.Opens.Add(1)
	}
	return ch, &fileHandle{wh: wh, writable: true, path: p, root: r, ino: ino}, 0, 0
}

// Mkdir creates a folder on the server (one MKCOL).
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r := rootOf(&n.Inode)
	p, err := r.childPath(&n.Inode, name, true)
	if err != nil {
		return nil, r.fail(ctx, "mkdir", remote.Join(serverPath(&n.Inode), name), err)
	}
	e, err := r.cache.Mkdir(ctx, p)
	if err != nil {
		return nil, r.fail(ctx, "mkdir", p, err)
	}
	// Like a new file, a new folder shows its mkdir mode (kept locally).
	r.local.remove(p)
	r.local.update(p, func(a *localAttr) { *a = localAttr{mode: mode & 0o7777, hasMode: true} })
	r.local.touched(serverPath(&n.Inode))
	r.fillAttr(e, &out.Attr)
	out.SetEntryTimeout(r.ttl)
	out.SetAttrTimeout(r.ttl)
	return n.childInode(ctx, name, syscall.S_IFDIR, &out.Attr), 0
}

// Mknod: devices, fifos and sockets cannot be stored in a library.
func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Unlink deletes a file: on the server (one DELETE) when it is there; a
// file whose upload is pending is dropped from the journal.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	r := rootOf(&n.Inode)
	p, ok := r.checkLookupName(serverPath(&n.Inode), name)
	if !ok {
		return syscall.ENOENT
	}
	p = remote.Join(serverPath(&n.Inode), p)
	detached := r.detach(&n.Inode, name, p)
	if err := r.cache.Remove(ctx, p); err != nil {
		return r.fail(ctx, "unlink", p, err)
	}
	detached()
	r.local.forget(p)
	r.local.touched(serverPath(&n.Inode))
	return 0
}

// Rmdir deletes an empty folder on the server.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	r := rootOf(&n.Inode)
	p, ok := r.checkLookupName(serverPath(&n.Inode), name)
	if !ok {
		return syscall.ENOENT
	}
	p = remote.Join(serverPath(&n.Inode), p)
	detached := r.detach(&n.Inode, name, p)
	if err := r.cache.Rmdir(ctx, p); err != nil {
		return r.fail(ctx, "rmdir", p, err)
	}
	detached()
	r.local.remove(p)
	r.local.touched(serverPath(&n.Inode))
	return 0
}

// Rename a file or folder, replacing the target unless RENAME_NOREPLACE.
// RENAME_EXCHANGE is not supported (the server cannot swap atomically).
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	r := rootOf(&n.Inode)
	if flags&^uint32(unixRenameNoReplace) != 0 {
		return syscall.EINVAL
	}
	if rootOf(newParent.EmbeddedInode()) != r {
		return syscall.EXDEV // into another library of the mount: mv copies
	}
	srcName, ok := r.checkLookupName(serverPath(&n.Inode), name)
	if !ok {
		return syscall.ENOENT
	}
	src := remote.Join(serverPath(&n.Inode), srcName)
	srcIsDir := false
	if ch := n.GetChild(name); ch != nil {
		srcIsDir = ch.IsDir()
	}
	dst, err := r.childPath(newParent.EmbeddedInode(), newName, srcIsDir)
	if err != nil {
		return r.fail(ctx, "rename", src+" -> "+remote.Join(serverPath(newParent.EmbeddedInode()), newName), err)
	}
	detached := func() {}
	if !strings.EqualFold(src, dst) {
		detached = r.detach(newParent.EmbeddedInode(), newName, dst)
	}
	if err := r.cache.Rename(ctx, src, dst, flags&unixRenameNoReplace != 0); err != nil {
		return r.fail(ctx, "rename", src, err)
	}
	detached()
	r.local.rename(src, dst)
	r.local.touched(serverPath(&n.Inode), serverPath(newParent.EmbeddedInode()))
	return 0
}

// unixRenameNoReplace is RENAME_NOREPLACE from renameat2(2).
const unixRenameNoReplace = 1

// Symlink: a library has no symbolic links.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Link: a library has no hard links.
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Getxattr answers ENOSYS: the kernel then marks the whole mount as
// having no extended attributes and answers every later getxattr itself
// (EOPNOTSUPP) without asking us. ENODATA, go-fuse's answer when the
// method is missing, is not cached: `ls -l` would cost a FUSE round trip
// per file for its security.selinux and system.posix_acl_access probes,
// and every write one for security.capability.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// Listxattr: see Getxattr.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENOSYS
}

// Setxattr: a library stores no extended attributes.
func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.ENOTSUP
}

// Removexattr: see Setxattr.
func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno { return syscall.ENOTSUP }
