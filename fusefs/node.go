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

// childInode returns the inode for the child name of n, of type mode
// (S_IFREG or S_IFDIR), whose attributes were filled into a: the inode
// go-fuse already holds under that name when it is of that type, else a
// new one.
//
// Inode numbers are a hash of the path where a file was first seen, so a
// file renamed here keeps the number of its old path (as rename(2) must:
// same file, same inode). Two rules follow. A name looked up again gets
// the inode it already has: a second inode for it would make go-fuse's
// tree, which gives every request its path, disagree with the kernel's
// dentries, and requests on the name would go out for the old path. And
// a new file at the old path must not get the number the renamed file
// still holds: go-fuse would take them for one inode (a hard link), and
// reads of one would be served by the other's path; such a file gets the
// next free number instead (inoSet).
func (n *node) childInode(ctx context.Context, name string, mode uint32, a *fuse.Attr) *fs.Inode {
	if ch := n.GetChild(name); ch != nil && ch.StableAttr().Mode&syscall.S_IFMT == mode {
		a.Ino = ch.StableAttr().Ino
		return ch
	}
	r := rootOf(&n.Inode)
	a.Ino = r.inos.take(a.Ino)
	return n.NewInode(ctx, &node{lib: r}, fs.StableAttr{Mode: mode, Ino: a.Ino})
}

// childIno is the inode number the file name of n has or would get now
// (childInode): the one of the inode go-fuse holds under the name, else
// the first free number from hash, the hash of its path.
func (n *node) childIno(name string, hash uint64) uint64 {
	if ch := n.GetChild(name); ch != nil {
		return ch.StableAttr().Ino
	}
	return rootOf(&n.Inode).inos.peek(hash)
}

// OnForget gives the node's number back once the kernel forgot it.
func (n *node) OnForget() {
	if n.lib != nil {
		n.lib.inos.release(n.StableAttr().Ino)
	}
}

// inoSet is the set of inode numbers held by live nodes.
type inoSet struct {
	mu sync.Mutex
	m  map[uint64]bool
}

// take returns ino, or, when a live node holds it, the first number
// after it that is free, and marks it held.
func (s *inoSet) take(ino uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[uint64]bool{}
	}
	ino = s.freeLocked(ino)
	s.m[ino] = true
	return ino
}

// peek returns what take would, without marking it held.
func (s *inoSet) peek(ino uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.freeLocked(ino)
}

// freeLocked returns ino, or the first number after it no live node
// holds (0 and 1 are go-fuse's).
func (s *inoSet) freeLocked(ino uint64) uint64 {
	for s.m[ino] || ino <= 1 {
		ino++
	}
	return ino
}

func (s *inoSet) release(ino uint64) {
	s.mu.Lock()
	delete(s.m, ino)
	s.mu.Unlock()
}
