package fusefs

import "github.com/hanwen/go-fuse/v2/fuse"

// hardFS hands every request to go-fuse's node bridge without the
// kernel's interrupt channel: the mount behaves like an NFS "hard" mount.
//
// The kernel interrupts a blocked syscall for any signal its caller
// catches — a Go program gets SIGURG many times a second, rsync has
// SIGCHLD and SIGALRM handlers — and go-fuse turns that into a cancelled
// context. Honouring it returned EINTR for a read, a stat or a mkdir that
// few programs retry, and for a MKCOL, DELETE or MOVE that had already
// reached the server it returned EINTR for a change that was made while
// the cache did not record it (restic init failed that way). A fatal
// signal (Ctrl-C, kill) still ends the caller at once: the kernel stops
// waiting for the answer; odfb finishes the request, bounded by the
// client's retries, and the answer is dropped.
//
// Release also counts the releases in flight for kernelio.go.
type hardFS struct {
	fuse.RawFileSystem
	roots []*Root // every library's root (one, unless MountLibraries)
}

func (h hardFS) Lookup(_ <-chan struct{}, in *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	return h.RawFileSystem.Lookup(nil, in, name, out)
}

func (h hardFS) GetAttr(_ <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	return h.RawFileSystem.GetAttr(nil, in, out)
}

func (h hardFS) SetAttr(_ <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	return h.RawFileSystem.SetAttr(nil, in, out)
}

func (h hardFS) Mkdir(_ <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	return h.RawFileSystem.Mkdir(nil, in, name, out)
}

func (h hardFS) Unlink(_ <-chan struct{}, in *fuse.InHeader, name string) fuse.Status {
	return h.RawFileSystem.Unlink(nil, in, name)
}

func (h hardFS) Rmdir(_ <-chan struct{}, in *fuse.InHeader, name string) fuse.Status {
	return h.RawFileSystem.Rmdir(nil, in, name)
}

func (h hardFS) Rename(_ <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	return h.RawFileSystem.Rename(nil, in, oldName, newName)
}

func (h hardFS) Create(_ <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	return h.RawFileSystem.Create(nil, in, name, out)
}

func (h hardFS) Open(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return h.RawFileSystem.Open(nil, in, out)
}

func (h hardFS) Read(_ <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	return h.RawFileSystem.Read(nil, in, buf)
}

// Writev, not Write: go-fuse hands every WRITE request to Writev.
func (h hardFS) Writev(_ <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	return h.RawFileSystem.Writev(nil, in, data)
}

func (h hardFS) Flush(_ <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	return h.RawFileSystem.Flush(nil, in)
}

func (h hardFS) Fsync(_ <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	return h.RawFileSystem.Fsync(nil, in)
}

func (h hardFS) Release(_ <-chan struct{}, in *fuse.ReleaseIn) {
	// Counted in every library's root: a release in flight anywhere
	// makes each root's kernel-I/O records careful (kernelio.go).
	for _, r := range h.roots {
		r.releasing.Add(1)
	}
	defer func() {
		for _, r := range h.roots {
			r.releasing.Add(-1)
		}
	}()
	h.RawFileSystem.Release(nil, in)
}

func (h hardFS) OpenDir(_ <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	return h.RawFileSystem.OpenDir(nil, in, out)
}

func (h hardFS) ReadDir(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return h.RawFileSystem.ReadDir(nil, in, out)
}

func (h hardFS) ReadDirPlus(_ <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return h.RawFileSystem.ReadDirPlus(nil, in, out)
}

func (h hardFS) StatFs(_ <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	return h.RawFileSystem.StatFs(nil, in, out)
}
