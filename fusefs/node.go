package fusefs

import (
	"sync"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node is a file or folder. What it is comes from the cache by its path,
// and everything shared from Root; it holds its own attributes only once
// it has no path any more (see detach).
type node struct {
	fs.Inode
	lib *Root // the library this node is in (nil for the Root itself)

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
