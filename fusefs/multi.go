package fusefs

import (
	"context"
	"hash/fnv"
	"sort"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/cache"
)

// Library is one library of a mount of several (MountLibraries): its
// folder name under the mountpoint and its cache, or, for a library
// that could not be opened, the error shown in its folder instead.
type Library struct {
	Name  string
	Cache *cache.Cache
	Err   error
	// PrefixChars and OnRead are this library's Options.PrefixChars and
	// Options.OnRead.
	PrefixChars int
	OnRead      func(hit bool, n int)
}

// ErrorFile is the file a failed library's folder holds: the error.
const ErrorFile = "odfb-error.txt"

// libraries is the top folder of a mount of several libraries: one
// folder per library, fixed for the mount's life. Each working library's
// folder is that library's Root; a failed one's is a read-only folder
// holding ErrorFile, so the others go on working.
type libraries struct {
	fs.Inode
	libs  []Library
	roots map[string]*Root // of the working libraries, by name
	opts  Options
}

var (
	_ = (fs.NodeOnAdder)((*libraries)(nil))
	_ = (fs.NodeGetattrer)((*libraries)(nil))
)

func (t *libraries) OnAdd(ctx context.Context) {
	for _, l := range t.libs {
		h := fnv.New64a()
		h.Write([]byte("library\x00" + l.Name))
		ino := h.Sum64() | 2
		if r := t.roots[l.Name]; r != nil {
			ch := t.NewPersistentInode(ctx, r, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino})
			t.AddChild(l.Name, ch, false)
			continue
		}
		dir := t.NewPersistentInode(ctx, &failedLibrary{owner: t}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino})
		msg := "odfb could not open the library " + l.Name + ":\n" + l.Err.Error() + "\n\nThe other libraries of this mount work. Fix the cause and mount again.\n"
		f := dir.NewPersistentInode(ctx, &fs.MemRegularFile{Data: []byte(msg), Attr: fuse.Attr{Mode: 0o444, Owner: fuse.Owner{Uid: t.uid(), Gid: t.gid()}}}, fs.StableAttr{Mode: syscall.S_IFREG, Ino: ino + 1})
		dir.AddChild(ErrorFile, f, false)
		t.AddChild(l.Name, dir, false)
	}
}

func (t *libraries) uid() uint32 {
	if t.opts.UID != 0 || syscall.Geteuid() == 0 {
		return t.opts.UID
	}
	return uint32(syscall.Getuid())
}

func (t *libraries) gid() uint32 {
	if t.opts.GID != 0 || syscall.Geteuid() == 0 {
		return t.opts.GID
	}
	return uint32(syscall.Getgid())
}

// Getattr: a read-only folder (libraries are neither made nor removed
// through the mount).
func (t *libraries) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | (0o555 &^ t.opts.Umask)
	out.Nlink = 2
	out.Uid, out.Gid = t.uid(), t.gid()
	return 0
}

// failedLibrary is the folder of a library that could not be opened.
type failedLibrary struct {
	fs.Inode
	owner *libraries
}

var _ = (fs.NodeGetattrer)((*failedLibrary)(nil))

func (f *failedLibrary) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	return f.owner.Getattr(ctx, fh, out)
}

// MountLibraries mounts several libraries at mountpoint, each as the
// folder Library.Name (names must be distinct and valid file names).
func MountLibraries(mountpoint string, libs []Library, opts Options) (*fuse.Server, error) {
	if opts.Logger == nil {
		opts.Logger = slogDefault()
	}
	if !opts.UmaskSet {
		opts.Umask, opts.UmaskSet = 0o022, true
	}
	sorted := append([]Library(nil), libs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	// The shortest attribute lifetime of the libraries serves the top.
	ttl := opts.AttrTimeout
	if ttl == 0 {
		ttl = time.Second
		for _, l := range libs {
			if l.Cache != nil {
				ttl = min(ttl, l.Cache.DirCacheTime())
			}
		}
	} else if ttl < 0 {
		ttl = 0
	}
	top := &libraries{libs: sorted, roots: map[string]*Root{}, opts: opts}
	var roots []*Root
	for _, l := range sorted {
		if l.Cache != nil {
			o := opts
			o.InoSalt, o.PrefixChars, o.OnRead = l.Name+"\x00", l.PrefixChars, l.OnRead
			r := NewRoot(l.Cache, o)
			top.roots[l.Name] = r
			roots = append(roots, r)
		}
	}
	return mountNode(mountpoint, top, ttl, opts, roots)
}
