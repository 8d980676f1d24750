package fusefs

import (
	"context"
	"sort"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/internal/names"
	"github.com/odfb/odfb/remote"
)

// Lookup finds a child by name, case-insensitively, from the folder's
// cached listing (one PROPFIND Depth 1 per folder per --dir-cache-time).
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	r := rootOf(&n.Inode)
	dir := serverPath(&n.Inode)
	srv, ok := r.checkLookupName(dir, name)
	if !ok {
		return nil, missing(name)
	}
	e, err := r.cache.Lookup(ctx, dir, srv)
	if toErrno(err) == syscall.ENOENT {
		return nil, missing(name)
	}
	if err != nil {
		return nil, r.fail(ctx, "lookup", remote.Join(dir, srv), err)
	}
	r.fillAttr(e, &out.Attr)
	out.SetEntryTimeout(r.ttl)
	out.SetAttrTimeout(r.ttl)
	if names.ToLocal(e.Name()) != name {
		// Another spelling of an existing name (other case, or the
		// full-width form of a mapped character). It opens the same
		// server file, but gets an inode of its own, not cached by the
		// kernel: with one inode for both, rename("a.txt", "A.txt")
		// would be a same-file rename the kernel answers itself with
		// success, and the case change would never reach the server.
		out.Attr.Ino = r.aliasIno(remote.Join(dir, srv))
		out.SetEntryTimeout(0)
		out.SetAttrTimeout(0)
	}
	mode := uint32(syscall.S_IFREG)
	if e.IsDir {
		mode = syscall.S_IFDIR
	}
	if names.ToLocal(e.Name()) != name {
		return n.NewInode(ctx, &node{lib: r}, fs.StableAttr{Mode: mode, Ino: out.Attr.Ino}), 0
	}
	return n.childInode(ctx, name, mode, &out.Attr), 0
}

// missing is the answer to a lookup of a name that is not there:
// ENAMETOOLONG for a name over 255 bytes (no such name can be created
// here, so "too long" is the true reason; one that exists on the server,
// named on another system, is still found), ENOENT otherwise.
func missing(name string) syscall.Errno {
	if names.CheckLocal(name) != nil {
		return syscall.ENAMETOOLONG
	}
	return syscall.ENOENT
}

// Readdir lists a folder, sorted by the names the user sees, so that
// repeated listings and seekdir offsets are stable. Entries the server
// marks hidden are left out of listings (they can still be opened by
// name).
func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	r := rootOf(&n.Inode)
	dir := serverPath(&n.Inode)
	kids, err := r.cache.ReadDir(ctx, dir)
	if err != nil {
		return nil, r.fail(ctx, "readdir", dir, err)
	}
	list := make([]fuse.DirEntry, 0, len(kids))
	for _, k := range kids {
		if systemItem(k) {
			continue
		}
		mode := uint32(syscall.S_IFREG)
		if k.IsDir {
			mode = syscall.S_IFDIR
		}
		list = append(list, fuse.DirEntry{Name: names.ToLocal(k.Name()), Mode: mode, Ino: r.inoOf(k.Path)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return fs.NewListDirStream(list), 0
}

// systemItem reports whether a listed entry is SharePoint's own furniture
// rather than something a user stored: the hidden "Forms" folder at the
// library root (a name users cannot create there). Such items stay
// reachable by name, like dot files. Everything else is listed even when
// the server marks it hidden: SharePoint sets the hidden bit on every
// name that starts with "_", and leaving a user's "_notes.txt" out of
// listings would make rsync and backup tools upload it again every run.
func systemItem(e remote.Entry) bool {
	return e.Hidden && e.IsDir && remote.Dir(e.Path) == "/" && strings.EqualFold(e.Name(), "Forms")
}
