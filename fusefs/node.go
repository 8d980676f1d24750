package fusefs

import (
	"context"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or folder. What it is comes from the cache by its path,
// and everything shared from Root; it holds its own attributes only once
// it has no path any more (see detach).
type node struct {
	fs.Inode

	mu   sync.Mutex
	gone *fuse.Attr // attributes when unlinked or replaced, for fstat on open descriptors
}

// detach takes the attributes the child name of parent has under path p
// before p is unlinked or replaced by a rename, and returns the function
// that keeps them on the child once that has succeeded: an open
// descriptor of it must go on showing its own mode and owner, not those
// of whatever takes the name.
func (r *Root) detach(parent *fs.Inode, name, p string) (commit func()) {
	ch := parent.GetChild(name)
	if ch == nil {
		return func() {}
	}
	nd, ok := ch.Operations().(*node)
	if !ok {
		return func() {}
	}
	e, ok := r.cache.Cached(p)
	if !ok {
		e.Path, e.IsDir = p, ch.IsDir()
	}
	var a fuse.Attr
	r.fillAttr(e, &a)
	return func() {
		nd.mu.Lock()
		nd.gone = &a
		nd.mu.Unlock()
	}
}

// goneAttr returns the attributes kept by detach, if any.
func (n *node) goneAttr() (fuse.Attr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gone == nil {
		return fuse.Attr{}, false
	}
	return *n.gone, true
}

// childInode returns the inode for the child name of n, of type mode
// (S_IFREG or S_IFDIR), whose attributes were filled into a: the inode
// go-fuse already holds under that name when it is of that type, else a
// new one numbered a.Ino. Inode numbers are a hash of the path where a
// file was first seen, so a file renamed here keeps the number of its
// old path (as rename(2) must: same file, same inode); a new inode for
// it under the new name would make go-fuse's tree, which gives every
// request its path, disagree with the kernel's dentries — requests on
// the name would then be sent for the old path.
func (n *node) childInode(ctx context.Context, name string, mode uint32, a *fuse.Attr) *fs.Inode {
	if ch := n.GetChild(name); ch != nil && ch.StableAttr().Mode&syscall.S_IFMT == mode {
		a.Ino = ch.StableAttr().Ino
		return ch
	}
	return n.NewInode(ctx, &node{}, fs.StableAttr{Mode: mode, Ino: a.Ino})
}
