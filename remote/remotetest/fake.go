package remotetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/odfb/odfb/remote"
)

var (
	_ remote.Remote          = (*Fake)(nil)
	_ remote.ChunkedUploader = (*Fake)(nil)
)

type object struct {
	entry remote.Entry
	data  []byte
}

// Range is one Get call as the fake received it.
type Range struct {
	Path           string
	Offset, Length int64 // as asked (Length < 0: to the end)
	Sent           int64 // bytes actually returned
}

// Fake is a map-backed remote.Remote.
type Fake struct {
	mu      sync.Mutex
	objs    map[string]*object // key: fold(path)
	calls   map[string]int
	gets    []Range
	fail    map[string]error // method name ("Get", "List", …) or "*" → error
	etagSeq int
	quota   remote.Quota
	uploads map[string]*upload // key: upload id
	// noChunks makes the ChunkedUploader methods answer ErrNotSupported.
	noChunks bool
	// Now gives times for new entries; defaults to time.Now.
	Now func() time.Time
}

// New returns an empty Fake holding only the root folder.
func New() *Fake {
	f := &Fake{objs: map[string]*object{}, calls: map[string]int{}, fail: map[string]error{}, uploads: map[string]*upload{}, Now: time.Now}
	f.objs["/"] = &object{entry: remote.Entry{Path: "/", IsDir: true, ModTime: time.Unix(1700000000, 0)}}
	return f
}

func fold(p string) string { return strings.ToLower(remote.Clean(p)) }

func (f *Fake) nextETag() string {
	f.etagSeq++
	return fmt.Sprintf(`"{%08d-0000-0000-0000-000000000000},1"`, f.etagSeq)
}

// AddDir creates a folder and its missing parents.
func (f *Fake) AddDir(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addDirLocked(remote.Clean(p))
}

func (f *Fake) addDirLocked(p string) {
	if p == "/" {
		return
	}
	f.addDirLocked(remote.Dir(p))
	if _, ok := f.objs[fold(p)]; !ok {
		t := f.Now().Truncate(time.Second)
		f.objs[fold(p)] = &object{entry: remote.Entry{Path: f.storedLocked(p), IsDir: true, ModTime: t, ServerModTime: t, ETag: f.nextETag()}}
	}
}

// AddFile creates or replaces a file (and missing parents) with data and
// mtime, giving it a new ETag, which it returns.
func (f *Fake) AddFile(p string, data []byte, mtime time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	p = remote.Clean(p)
	f.addDirLocked(remote.Dir(p))
	p = f.storedLocked(p) // case-preserving: keep the first spelling
	e := remote.Entry{Path: p, Size: int64(len(data)), ModTime: mtime, ServerModTime: mtime, ETag: f.nextETag()}
	f.objs[fold(p)] = &object{entry: e, data: bytes.Clone(data)}
	return e.ETag
}

// AddHidden is AddFile for an item the server marks hidden, in a hidden
// folder (like a SharePoint library's Forms/).
func (f *Fake) AddHidden(p string, data []byte, mtime time.Time) string {
	etag := f.AddFile(p, data, mtime)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objs[fold(p)].entry.Hidden = true
	if d := f.objs[fold(remote.Dir(p))]; d != nil && d.entry.Path != "/" {
		d.entry.Hidden = true
	}
	return etag
}

// Remove deletes a file or folder (and everything under it) server-side.
func (f *Fake) Remove(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeLocked(p)
}

func (f *Fake) removeLocked(p string) {
	k := fold(p)
	for key := range f.objs {
		if key == k || strings.HasPrefix(key, k+"/") {
			delete(f.objs, key)
		}
	}
}

// SetQuota sets what Quota reports.
func (f *Fake) SetQuota(q remote.Quota) {
	f.mu.Lock()
	f.quota = q
	f.mu.Unlock()
}

// Fail makes every later call of method ("Get", "List", "Stat", …, or "*"
// for all) return err; a nil err clears it.
func (f *Fake) Fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, method)
		return
	}
	f.fail[method] = err
}

// Calls returns how many times method was called (failed calls included).
func (f *Fake) Calls(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// TotalCalls returns the number of calls of all methods.
func (f *Fake) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// Gets returns the Get calls made so far.
func (f *Fake) Gets() []Range {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Range(nil), f.gets...)
}

// ResetCalls forgets the call counts and recorded Gets.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
	f.gets = nil
}

// begin counts a call and returns the injected failure, if any.
func (f *Fake) begin(method, p string) error {
	f.calls[method]++
	err := f.fail[method]
	if err == nil {
		err = f.fail["*"]
	}
	if err == nil {
		return nil
	}
	if _, ok := err.(*remote.Error); ok {
		return err
	}
	return &remote.Error{Kind: err, Op: method, Path: p}
}

func notFound(op, p string) error {
	return &remote.Error{Kind: remote.ErrNotFound, Op: op, Path: p, Status: 404}
}

// Stat implements remote.Remote.
func (f *Fake) Stat(_ context.Context, p string) (remote.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Stat", p); err != nil {
		return remote.Entry{}, err
	}
	o, ok := f.objs[fold(p)]
	if !ok {
		return remote.Entry{}, notFound("Stat", p)
	}
	return o.entry, nil
}

// List implements remote.Remote; children come sorted by path.
func (f *Fake) List(_ context.Context, dir string) (remote.Entry, []remote.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("List", dir); err != nil {
		return remote.Entry{}, nil, err
	}
	o, ok := f.objs[fold(dir)]
	if !ok {
		return remote.Entry{}, nil, notFound("List", dir)
	}
	if !o.entry.IsDir {
		return remote.Entry{}, nil, &remote.Error{Kind: remote.ErrNotDir, Op: "List", Path: dir}
	}
	var kids []remote.Entry
	k := fold(dir)
	for key, c := range f.objs {
		if key != "/" && key != k && remote.Dir(key) == k {
			kids = append(kids, c.entry)
		}
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].Path < kids[j].Path })
	return o.entry, kids, nil
}

// Get implements remote.Remote.
func (f *Fake) Get(_ context.Context, p string, offset, length int64) (io.ReadCloser, remote.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Get", p); err != nil {
		f.gets = append(f.gets, Range{Path: p, Offset: offset, Length: length})
		return nil, remote.ObjectInfo{}, err
	}
	o, ok := f.objs[fold(p)]
	if !ok || o.entry.IsDir {
		return nil, remote.ObjectInfo{}, notFound("Get", p)
	}
	end := int64(len(o.data))
	if offset > end {
		offset = end
	}
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	f.gets = append(f.gets, Range{Path: p, Offset: offset, Length: length, Sent: end - offset})
	return io.NopCloser(bytes.NewReader(o.data[offset:end])), remote.ObjectInfo{ETag: o.entry.ETag, Size: int64(len(o.data))}, nil
}

// Put implements remote.Remote.
func (f *Fake) Put(_ context.Context, p string, body io.ReaderAt, size int64, opts remote.PutOptions) (string, error) {
	data := make([]byte, size)
	if _, err := body.ReadAt(data, 0); err != nil && err != io.EOF {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Put", p); err != nil {
		return "", err
	}
	old, exists := f.objs[fold(p)]
	if opts.IfNoneMatch && exists {
		return "", &remote.Error{Kind: remote.ErrPrecondition, Op: "Put", Path: p, Status: 412}
	}
	if opts.IfMatch != "" && (!exists || old.entry.ETag != opts.IfMatch) {
		return "", &remote.Error{Kind: remote.ErrPrecondition, Op: "Put", Path: p, Status: 412}
	}
	if err := f.parentLocked("Put", p); err != nil {
		return "", err
	}
	if exists && old.entry.IsDir {
		return "", &remote.Error{Kind: remote.ErrExists, Op: "Put", Path: p, Status: 405, Detail: "a folder has that name"}
	}
	t := f.Now().Truncate(time.Second)
	e := remote.Entry{Path: f.storedLocked(p), Size: size, ModTime: t, ServerModTime: t, ETag: f.nextETag()}
	f.objs[fold(p)] = &object{entry: e, data: data}
	return e.ETag, nil
}

// Mkdir implements remote.Remote.
func (f *Fake) Mkdir(_ context.Context, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Mkdir", p); err != nil {
		return err
	}
	if _, ok := f.objs[fold(p)]; ok {
		return &remote.Error{Kind: remote.ErrExists, Op: "Mkdir", Path: p, Status: 405}
	}
	if err := f.parentLocked("Mkdir", p); err != nil {
		return err
	}
	f.addDirLocked(f.storedLocked(p))
	return nil
}

// Delete implements remote.Remote.
func (f *Fake) Delete(_ context.Context, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Delete", p); err != nil {
		return err
	}
	if _, ok := f.objs[fold(p)]; !ok {
		return notFound("Delete", p)
	}
	f.removeLocked(p)
	return nil
}

func (f *Fake) transfer(op, src, dst string, overwrite, keep bool) error {
	if err := f.begin(op, src); err != nil {
		return err
	}
	sk, dk := fold(src), fold(dst)
	if _, ok := f.objs[sk]; !ok {
		return notFound(op, src)
	}
	caseOnly := sk == dk && !keep && remote.Clean(src) != remote.Clean(dst)
	if (sk == dk && !caseOnly) || strings.HasPrefix(dk, sk+"/") {
		return &remote.Error{Kind: remote.ErrForbidden, Op: op, Path: src, Status: 403, Detail: "source and destination overlap"}
	}
	if _, ok := f.objs[dk]; ok && !overwrite && !caseOnly {
		return &remote.Error{Kind: remote.ErrPrecondition, Op: op, Path: dst, Status: 412}
	}
	if err := f.parentLocked(op, dst); err != nil {
		return err
	}
	to := f.storedLocked(dst)
	if caseOnly { // the same item takes the spelling asked for
		to = remote.Join(f.objs[fold(remote.Dir(dst))].entry.Path, remote.Base(dst))
	} else {
		f.removeLocked(dst)
	}
	from := f.objs[sk].entry.Path
	moved := map[string]*object{}
	for key, o := range f.objs {
		if key == sk || strings.HasPrefix(key, sk+"/") {
			n := *o
			n.entry.Path = remote.Clean(to + o.entry.Path[len(from):])
			if keep { // a copy is a new item; a move keeps its identity
				n.entry.ETag = f.nextETag()
			}
			moved[fold(n.entry.Path)] = &n
			if !keep {
				delete(f.objs, key)
			}
		}
	}
	for k, o := range moved {
		f.objs[k] = o
	}
	return nil
}

// Move implements remote.Remote.
func (f *Fake) Move(_ context.Context, src, dst string, overwrite bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.transfer("Move", src, dst, overwrite, false)
}

// Copy implements remote.Remote.
func (f *Fake) Copy(_ context.Context, src, dst string, overwrite bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.transfer("Copy", src, dst, overwrite, true)
}

// SetModTime implements remote.Remote.
func (f *Fake) SetModTime(_ context.Context, p string, t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("SetModTime", p); err != nil {
		return err
	}
	o, ok := f.objs[fold(p)]
	if !ok {
		return notFound("SetModTime", p)
	}
	o.entry.ModTime = t
	return nil
}

// Quota implements remote.Remote.
func (f *Fake) Quota(context.Context) (remote.Quota, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Quota", "/"); err != nil {
		return remote.Quota{}, err
	}
	return f.quota, nil
}

// parentLocked answers ErrConflict unless p's parent is a folder.
func (f *Fake) parentLocked(op, p string) error {
	if d, ok := f.objs[fold(remote.Dir(p))]; !ok || !d.entry.IsDir {
		return &remote.Error{Kind: remote.ErrConflict, Op: op, Path: p, Status: 409, Detail: "parent folder missing"}
	}
	return nil
}

// ReadFile returns a file's bytes as the fake stores them, without
// counting a call: the "server side" a test checks.
func (f *Fake) ReadFile(p string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[fold(p)]
	if !ok {
		return nil, notFound("ReadFile", p)
	}
	if o.entry.IsDir {
		return nil, &remote.Error{Kind: remote.ErrNotDir, Op: "ReadFile", Path: p, Detail: "a folder"}
	}
	return bytes.Clone(o.data), nil
}

// storedLocked returns p as the fake spells it: the stored spelling of
// the item when it exists, else of its parent (when that exists) and
// the last element as given. The server is case-preserving.
func (f *Fake) storedLocked(p string) string {
	p = remote.Clean(p)
	if o, ok := f.objs[fold(p)]; ok {
		return o.entry.Path
	}
	if p == "/" {
		return p
	}
	if d, ok := f.objs[fold(remote.Dir(p))]; ok {
		return remote.Join(d.entry.Path, remote.Base(p))
	}
	return p
}
