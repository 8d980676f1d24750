package fusefs

import (
	"context"
	"hash/fnv"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/names"
	"github.com/odfb/odfb/remote"
)

// Options configure a mount.
type Options struct {
	// UID and GID own every file (default: the mounting process's).
	UID, GID uint32
	// Umask clears permission bits: files are 0666&^Umask, folders
	// 0777&^Umask. Default 022 (UmaskSet false).
	Umask    uint32
	UmaskSet bool
	// AllowOther lets other users see the mount (needs user_allow_other
	// in /etc/fuse.conf for non-root).
	AllowOther bool
	// ReadOnly mounts read-only ("ro"); the kernel then refuses writes.
	ReadOnly bool
	// PrefixChars is the length of the library's server-relative path
	// ("/sites/team/Shared Documents"), counted in SharePoint's 400
	// character limit.
	PrefixChars int
	// AttrTimeout is how long the kernel may keep names and attributes
	// without asking; 0 means min(1s, the cache's DirCacheTime), a
	// negative value not at all (every stat asks odfb; for tests).
	AttrTimeout time.Duration
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Debug logs every FUSE request (very verbose).
	Debug bool
	// Passthrough says when warm reads use FUSE passthrough
	// (kernelio.go): PassthroughAuto ("" or "auto", the default) on a
	// read-only mount only, PassthroughOn on any mount (an open for
	// writing next to a passthrough reader then fails with ETXTBSY),
	// PassthroughOff never. Without it the page cache is kept across
	// opens (keep_cache).
	Passthrough string
	// Stats, if set, counts how opens and reads were served.
	Stats *Stats
	// InoSalt makes the inode numbers of this library differ from other
	// libraries' in the same mount (MountLibraries sets it).
	InoSalt string
	// OnRead, when set, is told of every read of a file's content from
	// the content cache: whether it was all cached before (a hit; else
	// the read waited for a download) and the bytes read.
	OnRead func(hit bool, n int)
}

// Root is the filesystem's root directory and holds all filesystem-wide
// state. Every node reaches it through rootOf. The write side adds its
// state here too (the uploader lives in cache and is reached through
// Root.cache; open-for-write handles in file.go), so nodes stay thin.
type Root struct {
	node
	cache *cache.Cache
	opts  Options
	log   *slog.Logger
	ttl   time.Duration
	start time.Time
	// local holds what chmod and chown set: kept for this mount only;
	// the server stores neither modes nor owners.
	local localAttrs
	// inos are the inode numbers of live nodes (childInode).
	inos inoSet
	// kio: how the kernel holds each inode open (kernelio.go);
	// passthrough: the kernel takes backing files (probed at mount);
	// releasing: Release calls in flight (hardFS.Release).
	kio         kernelIOs
	passthrough atomic.Bool
	releasing   atomic.Int64
}

// localAttr is what chmod and chown set on one file or folder, and when
// this mount last changed a folder's entries.
type localAttr struct {
	mode                    uint32 // permission bits (07777)
	uid, gid                uint32
	hasMode, hasUID, hasGID bool
	// changed: an entry was created, removed or renamed in this folder
	// here. POSIX moves the folder's mtime and ctime then; the server may
	// or may not (docs/sharepoint.md), so the mount shows this time until
	// the server reports a later one.
	changed time.Time
}

// localAttrs maps a server path (lower-cased: the server compares names
// case-insensitively) to what chmod and chown set on it. fillAttr shows
// them on every path that answers attributes (lookup, getattr with or
// without an open file, create, mkdir, setattr); rename carries them
// along, unlink and rmdir drop them.
type localAttrs struct {
	mu sync.Mutex
	m  map[string]localAttr
}

func localKey(p string) string { return strings.ToLower(p) }

// update changes the entry of p with f.
func (l *localAttrs) update(p string, f func(*localAttr)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]localAttr)
	}
	k := localKey(p)
	a := l.m[k]
	f(&a)
	l.m[k] = a
}

// apply shows the entry of p (if any) in a.
func (l *localAttrs) apply(p string, a *fuse.Attr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) == 0 {
		return
	}
	v, ok := l.m[localKey(p)]
	if !ok {
		return
	}
	if v.hasMode {
		a.Mode = a.Mode&^0o7777 | v.mode
	}
	if v.hasUID {
		a.Uid = v.uid
	}
	if v.hasGID {
		a.Gid = v.gid
	}
	if ch := v.changed; !ch.IsZero() {
		if ch.After(time.Unix(int64(a.Mtime), int64(a.Mtimensec))) {
			a.Mtime, a.Mtimensec = uint64(ch.Unix()), uint32(ch.Nanosecond())
		}
		if ch.After(time.Unix(int64(a.Ctime), int64(a.Ctimensec))) {
			a.Ctime, a.Ctimensec = uint64(ch.Unix()), uint32(ch.Nanosecond())
		}
	}
}

// touched records that the entries of the folders dirs changed now.
func (l *localAttrs) touched(dirs ...string) {
	now := time.Now()
	for _, d := range dirs {
		l.update(d, func(a *localAttr) { a.changed = now })
	}
}

// under reports whether key k is p or below it.
func under(k, p string) bool {
	return k == p || p == "/" || strings.HasPrefix(k, p+"/")
}

// forget drops the entry of the file p (unlink: nothing is below it).
func (l *localAttrs) forget(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, localKey(p))
}

// remove forgets p and everything below it.
func (l *localAttrs) remove(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p = localKey(p)
	for k := range l.m {
		if under(k, p) {
			delete(l.m, k)
		}
	}
}

// rename moves the entries of src and below to dst, replacing dst's.
func (l *localAttrs) rename(src, dst string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	src, dst = localKey(src), localKey(dst)
	if src == dst || len(l.m) == 0 {
		return
	}
	moved := make(map[string]localAttr)
	for k, v := range l.m {
		if under(k, src) {
			moved[dst+k[len(src):]] = v
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if under(k, dst) {
			delete(l.m, k)
		}
	}
	for k, v := range moved {
		l.m[k] = v
	}
}

// NewRoot returns the root node of a filesystem over c.
func NewRoot(c *cache.Cache, opts Options) *Root {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if !opts.UmaskSet {
		opts.Umask = 0o022
	}
	ttl := opts.AttrTimeout
	switch {
	case ttl == 0:
		ttl = min(time.Second, c.DirCacheTime())
	case ttl < 0:
		ttl = 0
	}
	return &Root{cache: c, opts: opts, log: opts.Logger, ttl: ttl, start: time.Now()}
}

// Mount mounts the filesystem over c at mountpoint and returns the
// running server; Unmount (or `umount`) ends it, Wait waits for that.
// As root it calls mount(2) itself; otherwise go-fuse runs fusermount3.
func Mount(mountpoint string, c *cache.Cache, opts Options) (*fuse.Server, error) {
	r := NewRoot(c, opts)
	return mountNode(mountpoint, r, r.ttl, opts, []*Root{r})
}

func slogDefault() *slog.Logger { return slog.Default() }

// mountNode mounts the tree under top, whose libraries' roots are roots.
func mountNode(mountpoint string, top fs.InodeEmbedder, ttl time.Duration, opts Options, roots []*Root) (*fuse.Server, error) {
	mo := fuse.MountOptions{
		FsName:      "odfb",
		Name:        "odfb",
		AllowOther:  opts.AllowOther,
		DirectMount: os.Geteuid() == 0,
		Options:     []string{"default_permissions"},
		Debug:       opts.Debug,
		MaxWrite:    1 << 20,
		// The kernel reads ahead at most this much per request; the
		// cache's own read-ahead decides what goes over the network.
		MaxReadAhead: 1 << 20,
	}
	if opts.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	raw := fs.NewNodeFS(top, &fs.Options{
		MountOptions:    mo,
		EntryTimeout:    &ttl,
		AttrTimeout:     &ttl,
		NegativeTimeout: &ttl,
		// fillAttr sets every mode, uid and gid itself: go-fuse must
		// not turn mode 0 (chmod 000, --umask 777) into 0644, nor a
		// chown to root into --uid/--gid.
		NullPermissions: true,
	})
	srv, err := fuse.NewServer(hardFS{raw, roots}, mountpoint, &mo)
	if err != nil {
		return nil, err
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		return nil, err // as fs.Mount: the serve loop ends by itself
	}
	for _, r := range roots {
		reason := ""
		if r.wantPassthrough() {
			var ok bool
			ok, reason = probePassthrough(srv, r.cache.Dir())
			r.passthrough.Store(ok)
		}
		r.logReadPath(r.cache.Dir(), reason)
	}
	return srv, nil
}

func (r *Root) uid() uint32 {
	if r.opts.UID != 0 || os.Geteuid() == 0 {
		return r.opts.UID
	}
	return uint32(os.Getuid())
}

func (r *Root) gid() uint32 {
	if r.opts.GID != 0 || os.Geteuid() == 0 {
		return r.opts.GID
	}
	return uint32(os.Getgid())
}

// rootOf returns the library's state from any node of it. In a mount
// of several libraries (MountLibraries) each has its own Root.
func rootOf(n *fs.Inode) *Root {
	switch o := n.Operations().(type) {
	case *Root:
		return o
	case *node:
		return o.lib
	}
	return nil
}

// serverPath returns the library-relative server path of a node.
func serverPath(n *fs.Inode) string {
	p := libPath(n, &rootOf(n).Inode)
	if p == "" {
		return "/"
	}
	return remote.Clean(names.PathToServer(p))
}

// libPath is n's path below top (its library's root), as Inode.Path(nil)
// gives it below the filesystem's root: a node that lost its parents
// (unlinked while open) gives what is left, with no placeholder.
func libPath(n, top *fs.Inode) string {
	var segs []string
	for p := n; p != top; {
		name, parent := p.Parent()
		if parent == nil {
			break
		}
		segs = append(segs, name)
		p = parent
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/")
}

// aliasIno is the inode number of a spelling of p that differs from the
// server's (see Lookup): p exactly as asked, case kept.
func (r *Root) aliasIno(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(r.opts.InoSalt + "alias\x00" + p))
	ino := h.Sum64()
	if ino <= 1 {
		ino += 2
	}
	return ino
}

// inoOf gives a stable inode number for a server path (case-folded, as
// the server compares names).
func (r *Root) inoOf(p string) uint64 {
	if p == "/" && r.opts.InoSalt == "" {
		return 1
	}
	h := fnv.New64a()
	h.Write([]byte(r.opts.InoSalt + strings.ToLower(p)))
	ino := h.Sum64()
	if ino <= 1 {
		ino += 2
	}
	return ino
}

// fillAttr turns an entry into attributes.
func (r *Root) fillAttr(e remote.Entry, out *fuse.Attr) {
	if e.IsDir {
		out.Mode = syscall.S_IFDIR | (0o777 &^ r.opts.Umask)
		out.Nlink = 2
	} else {
		out.Mode = syscall.S_IFREG | (0o666 &^ r.opts.Umask)
		out.Nlink = 1
		out.Size = uint64(e.Size)
		out.Blocks = (out.Size + 511) / 512
	}
	mt := e.ModTime
	if mt.IsZero() {
		mt = r.start
	}
	ct := e.ServerModTime
	if ct.IsZero() {
		ct = mt
	}
	out.SetTimes(&mt, &mt, &ct)
	out.Ino = r.inoOf(e.Path)
	out.Uid, out.Gid = r.uid(), r.gid()
	out.Blksize = 4096
	r.local.apply(e.Path, out)
}

// checkLookupName maps a local name and says whether the server could
// hold it; names it cannot are answered ENOENT without a request.
func (r *Root) checkLookupName(dir, local string) (string, bool) {
	srv := names.ToServer(local)
	if names.CheckName(srv) != nil {
		return srv, false
	}
	if names.CheckPath(remote.Join(dir, srv), r.opts.PrefixChars) != nil {
		return srv, false
	}
	return srv, true
}

// fail logs err for op on path (unless it is an everyday answer) and
// returns its errno.
func (r *Root) fail(ctx context.Context, op, path string, err error) syscall.Errno {
	errno := toErrno(err)
	switch errno {
	case syscall.ENOENT, syscall.EINTR, syscall.EROFS:
	default:
		r.log.Warn(op+" failed", "path", path, "errno", errno.Error(), "err", err)
	}
	return errno
}
