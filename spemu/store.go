package spemu

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors of the store; httpError maps them to status codes.
var (
	errNotFound     = fmt.Errorf("spemu: %w", fs.ErrNotExist)
	errExists       = fmt.Errorf("spemu: %w", fs.ErrExist)
	errNoParent     = fmt.Errorf("spemu: parent folder missing: %w", fs.ErrNotExist) // 409
	errNotDir       = errors.New("not a folder")                                     // 409
	errIsDir        = errors.New("is a folder")
	errPrecondition = errors.New("precondition failed") // 412
	errTooLarge     = errors.New("request body over the PUT limit")
	errLocked       = errors.New("resource is locked") // 423
	errBadRequest   = errors.New("bad request")
)

// pvtDir is the folder inside Root that holds spemu's own state. Its name
// contains "_vti_", which SharePoint refuses in every name, so no client
// can create, list or address it.
const pvtDir = "_vti_pvt"

// itemMeta is what spemu remembers about one file or folder beyond what
// the disk holds. It is keyed by the case-folded library path.
type itemMeta struct {
	GUID    string            `json:"guid"`              // upper case, no braces
	Version int64             `json:"v"`                 // writes so far (files); changes of content (folders)
	Size    int64             `json:"size"`              // size when last seen
	MtimeNs int64             `json:"mtime"`             // disk mtime when last seen
	Created time.Time         `json:"created"`           // creationdate
	Props   map[string]string `json:"props,omitempty"`   // dead properties: "ns\x00local" → inner XML
	Lock    *lockInfo         `json:"lock,omitempty"`    // the one exclusive write lock
	Hidden  bool              `json:"hidden,omitempty"`  // reserved for vti_winfileattribs-style flags
	Mutated bool              `json:"mutated,omitempty"` // office mutation applied to this version
}

// Item is a snapshot of one file or folder of the library.
type Item struct {
	Path     string    // library path in the stored case, "/" for the library root
	Name     string    // last segment in the stored case ("" for the root)
	IsDir    bool      // a folder
	Size     int64     // bytes (0 for folders)
	Modified time.Time // server-side TimeLastModified (getlastmodified)
	Created  time.Time // creationdate
	GUID     string    // the item's unique id (upper case, no braces)
	Version  int64     // the N of the ETag
	disk     string
	meta     *itemMeta
	// props is the item's dead properties when it was read, taken under
	// the store lock: readers use it, never meta.Props, which a PROPPATCH
	// replaces (it never changes a map in place, so a snapshot stays valid).
	props map[string]string
}

// ETag is SharePoint's `"{GUID},N"`.
func (it Item) ETag() string { return fmt.Sprintf("\"{%s},%d\"", it.GUID, it.Version) }

// store serves the library from a directory. Every namespace change and
// every metadata access holds mu; content is streamed outside the lock.
type store struct {
	root   string // absolute directory
	pvt    string // root/_vti_pvt
	tmp    string // root/_vti_pvt/tmp: uploads in progress (same file system as root)
	logger *slog.Logger

	mu    sync.Mutex
	meta  map[string]*itemMeta
	dirty bool
	dirs  map[string]*dirIndex // disk dir → case-folded names, see findChild

	stop chan struct{}
	done chan struct{}

	// fixedFolderTimes: Config.FolderTimesFixed.
	fixedFolderTimes bool
	// onChange, when set, is told of every change of the library
	// (changes.go), under mu.
	onChange func(typ int, lib, guid string, isDir bool)
}

// logChange reports a change to onChange. The caller holds st.mu.
func (st *store) logChange(typ int, lib, guid string, isDir bool) {
	if st.onChange != nil && guid != "" {
		st.onChange(typ, lib, guid, isDir)
	}
}

type metaFile struct {
	Format int                  `json:"format"`
	Items  map[string]*itemMeta `json:"items"`
}

func openStore(root string, logger *slog.Logger) (*store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		// Like `mkdir -p`: a new library starts empty.
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("spemu: creating root: %w", err)
		}
		logger.Info("spemu: created the root directory", "root", abs)
		fi, err = os.Stat(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("spemu: root %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("spemu: root %s is not a directory", abs)
	}
	st := &store{root: abs, pvt: filepath.Join(abs, pvtDir), logger: logger,
		meta: map[string]*itemMeta{}, dirs: map[string]*dirIndex{}, stop: make(chan struct{}), done: make(chan struct{})}
	st.tmp = filepath.Join(st.pvt, "tmp")
	if err := os.RemoveAll(st.tmp); err != nil {
		return nil, fmt.Errorf("spemu: clearing %s: %w", st.tmp, err)
	}
	if err := os.MkdirAll(st.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("spemu: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(st.pvt, "meta.json"))
	switch {
	case err == nil:
		var mf metaFile
		if jerr := json.Unmarshal(data, &mf); jerr != nil {
			logger.Warn("spemu: ignoring unreadable metadata; ETags restart", "file", filepath.Join(st.pvt, "meta.json"), "err", jerr)
		} else if mf.Items != nil {
			st.meta = mf.Items
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("spemu: %w", err)
	}
	go st.flushLoop()
	return st, nil
}

func (st *store) flushLoop() {
	defer close(st.done)
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-st.stop:
			st.flush()
			return
		case <-t.C:
			st.flush()
		}
	}
}

// flush writes the metadata to _vti_pvt/meta.json when it changed.
func (st *store) flush() {
	st.mu.Lock()
	if !st.dirty {
		st.mu.Unlock()
		return
	}
	data, err := json.Marshal(metaFile{Format: 1, Items: st.meta})
	st.dirty = false
	st.mu.Unlock()
	if err != nil {
		st.logger.Warn("spemu: encoding metadata", "err", err)
		return
	}
	name := filepath.Join(st.pvt, "meta.json")
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		st.logger.Warn("spemu: writing metadata", "file", tmp, "err", err)
		return
	}
	if err := os.Rename(tmp, name); err != nil {
		st.logger.Warn("spemu: writing metadata", "file", name, "err", err)
	}
}

func (st *store) close() {
	select {
	case <-st.stop:
	default:
		close(st.stop)
	}
	<-st.done
}

// cleanLibPath turns "a/b/", "/a//b" into "/a/b"; the root is "/".
func cleanLibPath(p string) string {
	return path.Clean("/" + p)
}

// foldKey is the case-insensitive key of a library path.
func foldKey(p string) string { return strings.ToLower(cleanLibPath(p)) }

func isPrivateName(name string) bool {
	return strings.Contains(strings.ToLower(name), "_vti_")
}

// resolved is the outcome of looking a library path up on disk.
type resolved struct {
	lib    string // canonical library path (stored case where it exists)
	disk   string
	fi     os.FileInfo // nil when it does not exist
	parent string      // disk path of the parent folder ("" when the parent is missing)
}

// resolve looks p up segment by segment, matching names case-insensitively.
// The caller holds st.mu.
func (st *store) resolve(p string) (resolved, error) {
	p = cleanLibPath(p)
	if p == "/" {
		fi, err := os.Stat(st.root)
		if err != nil {
			return resolved{}, err
		}
		return resolved{lib: "/", disk: st.root, fi: fi}, nil
	}
	segs := strings.Split(p[1:], "/")
	disk := st.root
	lib := ""
	for i, seg := range segs {
		if isPrivateName(seg) {
			return resolved{}, errNotFound
		}
		last := i == len(segs)-1
		name, fi, err := st.findChild(disk, seg)
		if err != nil {
			return resolved{}, err
		}
		if fi == nil {
			if !last {
				return resolved{lib: p}, errNoParent
			}
			return resolved{lib: lib + "/" + seg, disk: filepath.Join(disk, seg), parent: disk}, nil
		}
		if !last && !fi.IsDir() {
			return resolved{lib: p}, errNotDir
		}
		parent := disk
		disk = filepath.Join(disk, name)
		lib += "/" + name
		if last {
			return resolved{lib: lib, disk: disk, fi: fi, parent: parent}, nil
		}
	}
	panic("unreachable")
}

// dirIndex maps the case-folded names of one folder to their stored
// names. It is valid while the folder's mtime is the one recorded; spemu's
// own changes update it in place, a change behind spemu's back changes the
// mtime and forces a re-read. Without it every new file would cost a
// ReadDir of its folder (quadratic for bulk uploads into one folder).
type dirIndex struct {
	mtime time.Time
	names map[string]string
}

// findChild finds seg in the folder dir, exactly or case-insensitively.
// The caller holds st.mu.
func (st *store) findChild(dir, seg string) (string, os.FileInfo, error) {
	if fi, err := os.Stat(filepath.Join(dir, seg)); err == nil {
		return seg, fi, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err
	}
	dfi, err := os.Stat(dir)
	if err != nil {
		return "", nil, err
	}
	idx := st.dirs[dir]
	if idx == nil || !idx.mtime.Equal(dfi.ModTime()) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return "", nil, err
		}
		idx = &dirIndex{mtime: dfi.ModTime(), names: make(map[string]string, len(ents))}
		for _, e := range ents {
			if !isPrivateName(e.Name()) {
				idx.names[strings.ToLower(e.Name())] = e.Name()
			}
		}
		if len(st.dirs) > 4096 {
			clear(st.dirs) // a bound, not an LRU: indexes are cheap to rebuild
		}
		st.dirs[dir] = idx
	}
	name, ok := idx.names[strings.ToLower(seg)]
	if !ok {
		return "", nil, nil
	}
	fi, err := os.Stat(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		delete(idx.names, strings.ToLower(seg))
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return name, fi, nil
}

// noteDir records that spemu added (present) or removed the entry name
// in the folder dir, keeping the folder's index valid. The caller holds
// st.mu.
func (st *store) noteDir(dir, name string, present bool) {
	idx := st.dirs[dir]
	if idx == nil {
		return
	}
	dfi, err := os.Stat(dir)
	if err != nil {
		delete(st.dirs, dir)
		return
	}
	if present {
		idx.names[strings.ToLower(name)] = name
	} else {
		delete(idx.names, strings.ToLower(name))
	}
	idx.mtime = dfi.ModTime()
}

// forgetDirs drops the indexes of dir and everything below it.
func (st *store) forgetDirs(dir string) {
	for d := range st.dirs {
		if d == dir || strings.HasPrefix(d, dir+string(filepath.Separator)) {
			delete(st.dirs, d)
		}
	}
}

func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// metaFor returns the metadata of an existing item, creating it when the
// item is new to spemu and bumping the version when the file changed on
// disk behind spemu's back. The caller holds st.mu.
func (st *store) metaFor(lib string, fi os.FileInfo) *itemMeta {
	key := foldKey(lib)
	m := st.meta[key]
	size, mt := fi.Size(), fi.ModTime().UnixNano()
	if fi.IsDir() {
		size, mt = 0, 0
	}
	if m == nil {
		m = &itemMeta{GUID: newGUID(), Size: size, MtimeNs: mt, Created: fi.ModTime().UTC().Truncate(time.Second)}
		if !fi.IsDir() {
			m.Version = 1
		}
		st.meta[key] = m
		st.dirty = true
		return m
	}
	if !fi.IsDir() && (m.Size != size || m.MtimeNs != mt) {
		m.Version++
		m.Size, m.MtimeNs = size, mt
		m.Mutated = false
		st.dirty = true
		st.logChange(ChangeUpdate, lib, m.GUID, false) // noticed only now
	}
	return m
}

// item builds the Item of an existing resolved path. The caller holds st.mu.
func (st *store) item(r resolved) Item {
	m := st.metaFor(r.lib, r.fi)
	it := Item{Path: r.lib, Name: path.Base(r.lib), IsDir: r.fi.IsDir(), Modified: r.fi.ModTime().UTC(),
		Created: m.Created, GUID: m.GUID, Version: m.Version, disk: r.disk, meta: m, props: m.Props}
	if r.lib == "/" {
		it.Name = ""
	}
	if !it.IsDir {
		it.Size = r.fi.Size()
	} else if st.fixedFolderTimes {
		it.Modified = m.Created
	}
	return it
}

// Stat returns the item at library path p.
func (st *store) Stat(p string) (Item, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.statLocked(p)
}

func (st *store) statLocked(p string) (Item, error) {
	r, err := st.resolve(p)
	if err != nil {
		if errors.Is(err, errNoParent) || errors.Is(err, errNotDir) {
			return Item{}, errNotFound
		}
		return Item{}, err
	}
	if r.fi == nil {
		return Item{}, errNotFound
	}
	return st.item(r), nil
}

// List returns the children of the folder p, sorted by name, without
// spemu's private entries.
func (st *store) List(p string) ([]Item, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	dir, err := st.statLocked(p)
	if err != nil {
		return nil, err
	}
	if !dir.IsDir {
		return nil, errNotDir
	}
	ents, err := os.ReadDir(dir.disk)
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(ents))
	for _, e := range ents {
		if isPrivateName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // vanished meanwhile
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if fi, err = os.Stat(filepath.Join(dir.disk, e.Name())); err != nil {
				continue
			}
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			continue
		}
		lib := path.Join(dir.Path, e.Name())
		out = append(out, st.item(resolved{lib: lib, disk: filepath.Join(dir.disk, e.Name()), fi: fi}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Open opens the file p for reading.
func (st *store) Open(p string) (*os.File, Item, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	it, err := st.statLocked(p)
	if err != nil {
		return nil, Item{}, err
	}
	if it.IsDir {
		return nil, it, errIsDir
	}
	// Opened under the lock: a concurrent replace (a rename under the
	// same lock) cannot slip between the ETag and the content.
	f, err := os.Open(it.disk)
	if err != nil {
		return nil, it, err
	}
	return f, it, nil
}

// TempFile creates a file for an upload in progress, in _vti_pvt/tmp (the
// same file system as the library, so CommitFile is a rename). The caller
// removes it when it does not commit it.
func (st *store) TempFile() (*os.File, error) {
	return os.CreateTemp(st.tmp, "upload-*")
}

// CommitCheck is run by CommitFile under the store lock, just before the
// rename, with the current item (exists=false when there is none); an
// error aborts the commit. It is how callers evaluate If-Match /
// If-None-Match / lock tokens atomically with the write.
type CommitCheck func(cur Item, exists bool) error

// CommitFile moves the finished upload tmp into place at library path p,
// atomically, creating or replacing the file (keeping the stored name's
// case when a name differing only in case exists). It bumps the ETag
// version and returns the new item and whether the file was created.
// On error tmp is left for the caller to remove.
func (st *store) CommitFile(p, tmp string, check CommitCheck) (Item, bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.commitLocked(p, tmp, check)
}

func (st *store) commitLocked(p, tmp string, check CommitCheck) (Item, bool, error) {
	r, err := st.resolve(p)
	if err != nil {
		if errors.Is(err, errNotDir) {
			return Item{}, false, errNoParent
		}
		return Item{}, false, err
	}
	var cur Item
	exists := r.fi != nil
	if exists {
		if r.fi.IsDir() {
			return Item{}, false, errIsDir
		}
		cur = st.item(r)
	}
	if check != nil {
		if err := check(cur, exists); err != nil {
			return Item{}, false, err
		}
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return Item{}, false, err
	}
	if err := os.Rename(tmp, r.disk); err != nil {
		return Item{}, false, err
	}
	st.noteDir(filepath.Dir(r.disk), filepath.Base(r.disk), true)
	fi, err := os.Stat(r.disk)
	if err != nil {
		return Item{}, false, err
	}
	key := foldKey(r.lib)
	m := st.meta[key]
	if m == nil || !exists {
		m = &itemMeta{GUID: newGUID(), Created: time.Now().UTC().Truncate(time.Second)}
		st.meta[key] = m
	}
	m.Version++
	m.Size, m.MtimeNs = fi.Size(), fi.ModTime().UnixNano()
	m.Mutated = false
	st.dirty = true
	st.bumpFolderLocked(r.lib)
	it := st.item(resolved{lib: r.lib, disk: r.disk, fi: fi})
	if exists {
		st.logChange(ChangeUpdate, it.Path, it.GUID, false)
	} else {
		st.logChange(ChangeAdd, it.Path, it.GUID, false)
	}
	return it, !exists, nil
}

// WriteStream stores the content of body at p (create or replace) through
// a temp file, refusing bodies over limit (limit < 0: none) with
// errTooLarge before anything is stored.
func (st *store) WriteStream(p string, body io.Reader, limit int64, check CommitCheck) (Item, bool, error) {
	f, err := st.TempFile()
	if err != nil {
		return Item{}, false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	var n int64
	if limit >= 0 {
		n, err = io.Copy(f, io.LimitReader(body, limit+1))
		if err == nil && n > limit {
			err = errTooLarge
		}
	} else {
		_, err = io.Copy(f, body)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Item{}, false, err
	}
	return st.CommitFile(p, tmp, check)
}

// withLock runs fn holding the store lock (for the *Locked methods).
func (st *store) withLock(fn func() error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return fn()
}

// Mkdir creates the folder p: errExists when something is there,
// errNoParent when the parent is missing.
func (st *store) Mkdir(p string) (Item, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.mkdirLocked(p)
}

func (st *store) mkdirLocked(p string) (Item, error) {
	r, err := st.resolve(p)
	if err != nil {
		if errors.Is(err, errNotDir) {
			return Item{}, errNoParent
		}
		return Item{}, err
	}
	if r.fi != nil {
		return Item{}, errExists
	}
	if err := os.Mkdir(r.disk, 0o755); err != nil {
		return Item{}, err
	}
	st.noteDir(filepath.Dir(r.disk), filepath.Base(r.disk), true)
	fi, err := os.Stat(r.disk)
	if err != nil {
		return Item{}, err
	}
	st.dropMetaLocked(r.lib) // stale records of an older item
	m := st.metaFor(r.lib, fi)
	m.Created = time.Now().UTC().Truncate(time.Second)
	st.bumpFolderLocked(r.lib)
	st.logChange(ChangeAdd, r.lib, m.GUID, true)
	return st.item(resolved{lib: r.lib, disk: r.disk, fi: fi}), nil
}

// Remove deletes the file or folder (recursively) at p.
func (st *store) Remove(p string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.removeLocked(p)
}

func (st *store) removeLocked(p string) error {
	it, err := st.statLocked(p)
	if err != nil {
		return err
	}
	if it.Path == "/" {
		return errBadRequest
	}
	if err := os.RemoveAll(it.disk); err != nil {
		return err
	}
	st.forgetDirs(it.disk)
	st.noteDir(filepath.Dir(it.disk), filepath.Base(it.disk), false)
	st.dropMetaLocked(it.Path)
	st.bumpFolderLocked(it.Path)
	st.logChange(ChangeDelete, it.Path, it.GUID, it.IsDir)
	return nil
}

// bumpFolderLocked gives the folder holding lib its next version: a
// SharePoint Online folder's ETag ("{GUID},N") changes when its content
// does (a child added, replaced, removed or renamed), where emulators keep
// ",0". The caller holds st.mu.
func (st *store) bumpFolderLocked(lib string) {
	if lib == "/" || lib == "" {
		return
	}
	if m := st.meta[foldKey(path.Dir(lib))]; m != nil {
		m.Version++
		st.dirty = true
	}
}

func (st *store) dropMetaLocked(lib string) {
	key := foldKey(lib)
	for k := range st.meta {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(st.meta, k)
		}
	}
	st.dirty = true
}

// MoveCopy moves or copies src to dst. overwrite allows replacing dst
// (which is deleted first, as RFC 4918 says); shallow copies a folder
// without its members (COPY Depth: 0). It returns whether dst was
// created (false: replaced). check runs under the lock with both items.
func (st *store) MoveCopy(src, dst string, move, overwrite, shallow bool, check func(src Item, dst Item, dstExists bool) error) (bool, error) {
	// A file's copy is made outside the lock (it may be gigabytes) and
	// renamed into place under it, if the source did not change meanwhile.
	var prepared string
	var preparedFrom Item
	if !move {
		tmp, from, err := st.copyToTemp(src)
		switch {
		case err == nil:
			prepared, preparedFrom = tmp, from
			defer os.Remove(tmp)
		case !errors.Is(err, errIsDir):
			return false, err
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s, err := st.statLocked(src)
	if err != nil {
		return false, err
	}
	if s.Path == "/" {
		return false, errBadRequest
	}
	r, err := st.resolve(dst)
	if err != nil {
		if errors.Is(err, errNotDir) {
			return false, errNoParent
		}
		return false, err
	}
	dstExists := r.fi != nil
	var d Item
	if dstExists {
		d = st.item(r)
	}
	sk, dk := foldKey(s.Path), foldKey(r.lib)
	if sk == dk && move && path.Base(s.Path) != path.Base(cleanLibPath(dst)) {
		// A case-only rename of the same item.
		dstExists = false
	} else if sk == dk || strings.HasPrefix(dk, sk+"/") {
		return false, errForbiddenSelf
	}
	if check != nil {
		if err := check(s, d, dstExists); err != nil {
			return false, err
		}
	}
	if dstExists {
		if !overwrite {
			return false, errPrecondition
		}
		if err := os.RemoveAll(r.disk); err != nil {
			return false, err
		}
		st.forgetDirs(r.disk)
		st.noteDir(filepath.Dir(r.disk), filepath.Base(r.disk), false)
		st.dropMetaLocked(r.lib)
		st.logChange(ChangeDelete, d.Path, d.GUID, d.IsDir)
	}
	target := r.disk
	if sk == dk { // case-only rename: the target name is the requested one
		target = filepath.Join(filepath.Dir(s.disk), path.Base(cleanLibPath(dst)))
	}
	dstLib := path.Join(path.Dir(r.lib), path.Base(target))
	if move {
		if err := os.Rename(s.disk, target); err != nil {
			return false, err
		}
		st.forgetDirs(s.disk)
		st.noteDir(filepath.Dir(s.disk), filepath.Base(s.disk), false)
		st.noteDir(filepath.Dir(target), filepath.Base(target), true)
		// Keep the items' identities (GUIDs, versions, props) under the new path.
		dk = foldKey(dstLib)
		moved := map[string]*itemMeta{}
		for k, m := range st.meta {
			if k == sk || strings.HasPrefix(k, sk+"/") {
				moved[dk+k[len(sk):]] = m
				delete(st.meta, k)
			}
		}
		for k, m := range moved {
			m.Lock = nil // locks do not travel with a MOVE (RFC 4918 7.7)
			st.meta[k] = m
		}
		st.dirty = true
		st.bumpFolderLocked(s.Path)
		typ := ChangeRename
		if foldKey(path.Dir(s.Path)) != foldKey(path.Dir(dstLib)) {
			st.bumpFolderLocked(dstLib)
			typ = ChangeMoveInto
		}
		st.logChange(typ, dstLib, s.GUID, s.IsDir)
		return !dstExists, nil
	}
	if prepared != "" && !s.IsDir && s.GUID == preparedFrom.GUID && s.Version == preparedFrom.Version {
		if err := os.Rename(prepared, target); err != nil {
			return false, err
		}
	} else if err := copyTree(s.disk, target, shallow); err != nil {
		os.RemoveAll(target)
		return false, err
	}
	st.noteDir(filepath.Dir(target), filepath.Base(target), true)
	// Copies are new items; dead properties are copied (RFC 4918 9.8.2).
	for k, m := range st.meta {
		if k == sk || strings.HasPrefix(k, sk+"/") {
			nk := foldKey(dstLib) + k[len(sk):]
			props := map[string]string{}
			for pk, pv := range m.Props {
				props[pk] = pv
			}
			delete(st.meta, nk)
			if len(props) > 0 {
				st.pendingProps(nk, props)
			}
		}
	}
	st.dirty = true
	st.bumpFolderLocked(dstLib)
	if fi, err := os.Stat(target); err == nil {
		// A copied folder is one Add, its content none [obs: sp-dev-docs#9039].
		st.logChange(ChangeAdd, dstLib, st.metaFor(dstLib, fi).GUID, fi.IsDir())
	}
	return !dstExists, nil
}

// pendingProps records dead properties for an item spemu has not seen yet;
// metaFor then creates the rest of its record.
func (st *store) pendingProps(key string, props map[string]string) {
	st.meta[key] = &itemMeta{GUID: newGUID(), Version: 0, Size: -1, Props: props, Created: time.Now().UTC().Truncate(time.Second)}
}

var errForbiddenSelf = errors.New("source and destination overlap")

// copyToTemp copies the file p into a new temp file (outside the lock)
// and returns its name and the item it was copied from; errIsDir for a
// folder.
func (st *store) copyToTemp(p string) (string, Item, error) {
	in, it, err := st.Open(p)
	if err != nil {
		return "", it, err
	}
	defer in.Close()
	out, err := st.TempFile()
	if err != nil {
		return "", it, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", it, err
	}
	if err := out.Close(); err != nil {
		os.Remove(out.Name())
		return "", it, err
	}
	if err := os.Chmod(out.Name(), 0o644); err != nil {
		os.Remove(out.Name())
		return "", it, err
	}
	return out.Name(), it, nil
}

func copyTree(src, dst string, shallow bool) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := os.Mkdir(dst, 0o755); err != nil || shallow {
			return err
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if isPrivateName(e.Name()) {
				continue
			}
			if err := copyTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()), false); err != nil {
				return err
			}
		}
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
