package fusefs

// Warm reads served by the kernel (issue 14).
//
// A read-only open of a file whose whole content is in the cache, at
// the version the listing says is current, is handed to the kernel:
//
//   - FUSE passthrough (FOPEN_PASSTHROUGH, Linux 6.9 or newer, root):
//     the kernel reads the cached content file itself; no READ request
//     reaches odfb. Mount probes it once (probePassthrough) and logs
//     which path warm reads take.
//   - otherwise the page cache kept across opens (FOPEN_KEEP_CACHE):
//     pages the kernel read through odfb stay for the next open of the
//     same version. An open of another version (or after a write) goes
//     without the flag, and the kernel drops the file's pages then: no
//     stale page is read after the server's version changed.
//
// A file that is only partly cached (sparse), pending upload or open
// for writing is never passed through and never keeps its pages.
//
// The kernel puts each inode in one of two modes while it is open:
// passthrough (every open must be FOPEN_PASSTHROUGH on the same backing
// file) or cached (no open may be passthrough); a mismatch fails the
// open with EIO (fs/fuse/iomode.c). kernelIO tracks the mode of each
// inode so odfb never asks for a mismatch. What this costs: while a
// file is open for reading through passthrough, an open for writing
// (or an open of a newer version from the server) cannot share the
// inode: it fails with ETXTBSY and a log line saying why, instead of a
// write that would bypass staging or a read of the old version. That
// breaks programs that read and append one file at once, so
// passthrough is used by default only on a read-only mount, where no
// open for writing exists; a writable mount uses keep_cache, which has
// no such limit, unless --passthrough=on asks for passthrough.
//
// go-fuse reuses an inode's backing id while any passthrough open of it
// is alive, and releases it after our Release returns; releasing counts
// Release calls in flight so that an open of a new version never picks
// up the backing file of the old one (see readMode).

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/cache"
)

// Stats counts how opens were served. Pass one in Options.Stats to
// read it (tests, status); every field is updated atomically.
type Stats struct {
	// PassthroughOpens: read-only opens handed to the kernel with
	// FOPEN_PASSTHROUGH.
	PassthroughOpens atomic.Int64
	// KeepCacheOpens: read-only opens that kept the kernel's pages of
	// the file (FOPEN_KEEP_CACHE).
	KeepCacheOpens atomic.Int64
	// Reads: READ requests odfb answered.
	Reads atomic.Int64
	// Refused: opens refused with ETXTBSY because the file is open
	// through passthrough (see the package comment of kernelio.go).
	Refused atomic.Int64
	// Opens and Releases count file handles given out and released.
	// The kernel sends RELEASE after close() returns, so an open right
	// after a close may still see the earlier handle (and then is not
	// passed through: the inode is still in cached mode).
	Opens, Releases atomic.Int64
}

// kernelIO is how the kernel holds one inode open.
type kernelIO struct {
	pt        int    // opens in passthrough mode
	ptVersion string // the version of their backing file
	cached    int    // opens in the kernel's cached mode (all others)
	// pages is the version whose pages the kernel may hold for this
	// inode ("" when unknown: a write, or opens of two versions).
	pages string
}

func (k *kernelIO) idle() bool { return k.pt == 0 && k.cached == 0 }

// maxIdleIO bounds the inodes remembered only for their pages' version;
// past it they are forgotten (their next open drops the pages).
const maxIdleIO = 8192

// kernelIOs maps an inode number to its kernelIO. Keyed by inode
// number, not node: go-fuse may hand a create the node already known
// under that number.
type kernelIOs struct {
	mu sync.Mutex
	m  map[uint64]*kernelIO
}

// getLocked returns ino's record, creating it. Past maxIdleIO records,
// idle ones are forgotten, but only while no Release is running
// (releasing): an inode that had passthrough opens may be forgotten
// only once go-fuse has dropped its backing id, since a record without
// ptVersion means "no backing id" to readMode.
func (k *kernelIOs) getLocked(ino uint64, releasing int64) *kernelIO {
	if k.m == nil {
		k.m = make(map[uint64]*kernelIO)
	}
	io := k.m[ino]
	if io == nil {
		if len(k.m) >= maxIdleIO && releasing == 0 {
			for i, v := range k.m {
				if v.idle() {
					delete(k.m, i)
				}
			}
		}
		io = &kernelIO{}
		k.m[ino] = io
	}
	return io
}

// readMode decides how a read-only open of a cached version (h) of the
// inode ino is served: passthrough (the cached file), keep_cache, or
// plain; ETXTBSY when the inode is in passthrough mode on another
// version. It records the open; the handle's Release undoes it.
func (r *Root) readMode(ino uint64, h *cache.Handle) (f *os.File, flags uint32, errno syscall.Errno) {
	full := h.Complete()
	if h.Size() == 0 {
		full = nil // nothing to gain
	}
	ver := h.Version()
	r.kio.mu.Lock()
	defer r.kio.mu.Unlock()
	k := r.kio.getLocked(ino, r.releasing.Load())
	// A new backing file may be registered only when go-fuse holds none
	// for this inode: it never had a passthrough open (ptVersion ""),
	// or none is alive and no Release is running (go-fuse drops the old
	// id after our Release returns). Reusing one of the same version is
	// fine.
	if r.passthrough.Load() && full != nil && k.cached == 0 &&
		(k.ptVersion == ver || (k.pt == 0 && (k.ptVersion == "" || r.releasing.Load() == 0))) {
		k.pt++
		k.ptVersion = ver
		return full, fuse.FOPEN_PASSTHROUGH, 0
	}
	if k.pt > 0 {
		return nil, 0, syscall.ETXTBSY
	}
	keep := full != nil && k.pages == ver
	if k.cached > 0 && k.pages != ver {
		k.pages = "" // another version's pages may come in meanwhile
	} else {
		k.pages = ver // without KEEP_CACHE the kernel drops the old ones now
	}
	k.cached++
	if keep {
		return nil, fuse.FOPEN_KEEP_CACHE, 0
	}
	return nil, 0, 0
}

// cachedMode records an open in the kernel's cached mode that may
// change the file (a write, a pending file): its pages are no longer
// of a known version. ETXTBSY while the inode is open in passthrough
// mode.
func (r *Root) cachedMode(ino uint64) syscall.Errno {
	r.kio.mu.Lock()
	defer r.kio.mu.Unlock()
	k := r.kio.getLocked(ino, r.releasing.Load())
	if k.pt > 0 {
		return syscall.ETXTBSY
	}
	k.cached++
	k.pages = ""
	return 0
}

// closed undoes one open of ino recorded by readMode or cachedMode.
func (r *Root) closed(ino uint64, passthrough bool) {
	r.kio.mu.Lock()
	defer r.kio.mu.Unlock()
	k := r.kio.m[ino]
	if k == nil {
		return
	}
	if passthrough {
		k.pt--
	} else {
		k.cached--
	}
	if k.idle() && k.pages == "" && k.ptVersion == "" {
		delete(r.kio.m, ino)
	}
}

// refusedBusy logs and counts an open refused because the inode is in
// passthrough mode.
func (r *Root) refusedBusy(ctx context.Context, op, p string) syscall.Errno {
	if r.opts.Stats != nil {
		r.opts.Stats.Refused.Add(1)
	}
	r.log.Warn(op+" refused: the file is open for reading through FUSE passthrough, and the kernel lets no other kind of open share it; "+
		"close the readers, or mount without --passthrough=on", "path", p, "errno", syscall.ETXTBSY.Error())
	return syscall.ETXTBSY
}

// ptHandle is a read-only handle the kernel serves from the cached
// file (FOPEN_PASSTHROUGH). It is a separate type so that go-fuse,
// which passes through every handle implementing FilePassthroughFder
// once an inode has a backing file, never does so for a handle that
// writes (those must reach staging).
type ptHandle struct {
	*fileHandle
	fd int
}

var _ = (fs.FilePassthroughFder)((*ptHandle)(nil))

// PassthroughFd returns the cached file's descriptor; go-fuse registers
// it with the kernel (which keeps its own reference to the file).
func (p *ptHandle) PassthroughFd() (int, bool) { return p.fd, true }

// probePassthrough reports whether the kernel takes a backing file for
// this mount (FUSE passthrough: Linux 6.9+, CAP_SYS_ADMIN), by
// registering a scratch file in the cache directory and releasing it.
func probePassthrough(srv *fuse.Server, dir string) (bool, string) {
	if srv.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH == 0 {
		return false, "the kernel does not offer FUSE passthrough (Linux 6.9 or newer)"
	}
	f, err := os.CreateTemp(dir, ".passthrough-probe-*")
	if err != nil {
		return false, "cannot create a probe file in the cache directory: " + err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	id, errno := srv.RegisterBackingFd(&fuse.BackingMap{Fd: int32(f.Fd())})
	if errno != 0 {
		return false, "the kernel refused a backing file (" + errno.Error() + "; it needs root, and a cache directory not itself on a FUSE file system)"
	}
	srv.UnregisterBackingFd(id)
	return true, ""
}

// The values of Options.Passthrough.
const (
	PassthroughAuto = "auto"
	PassthroughOn   = "on"
	PassthroughOff  = "off"
)

// ValidPassthrough reports whether v is a value of Options.Passthrough.
func ValidPassthrough(v string) bool {
	switch v {
	case "", PassthroughAuto, PassthroughOn, PassthroughOff:
		return true
	}
	return false
}

// wantPassthrough says whether this mount asks for passthrough: on a
// read-only mount by default (nothing can open a file for writing
// there), on a writable one only when asked (--passthrough=on).
func (r *Root) wantPassthrough() bool {
	switch r.opts.Passthrough {
	case PassthroughOn:
		return true
	case PassthroughOff:
		return false
	}
	return r.opts.ReadOnly
}

// logReadPath says once, at mount, which path warm reads take.
func (r *Root) logReadPath(dir, reason string) {
	switch {
	case r.passthrough.Load():
		r.log.Info("warm reads: FUSE passthrough (the kernel reads fully cached files from the cache directory)", "cache_dir", filepath.Clean(dir))
	case r.wantPassthrough():
		r.log.Info("warm reads: page cache kept across opens (keep_cache); FUSE passthrough is not available", "reason", reason)
	case r.opts.Passthrough == PassthroughOff:
		r.log.Info("warm reads: page cache kept across opens (keep_cache); FUSE passthrough is off (--passthrough=off)")
	default:
		r.log.Info("warm reads: page cache kept across opens (keep_cache); FUSE passthrough is used on read-only mounts (--passthrough=on for this one)")
	}
}
