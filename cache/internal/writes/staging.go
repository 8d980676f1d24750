package writes

// Locks of the cache and all its parts, in the order they may be taken (one on
// the left may be held while taking one on its right, never the other
// way round):
//
//	WriteHandle.mu                      alone (closed flag)
//	pending.fetchMu → Writer.mu         ensureFetched
//	pending.commitMu → Writer.mu        commit, keepLost
//	Handle.mu → blocks.Store.mu         Handle.ReadAt
//	cfile.persistMu → blocks.Store.mu   persistFetched
//	blocks.Store.mu → reach.State.mu    ReadAt asks MayAsk/Offline
//	listing.Store.editMu → Writer.mu    a fetch's answer → reach OnBack → retryFailedNow
//	listing.Store.editMu → blocks.Store.mu   a new listing drops changed content
//	listing.Store.editMu → listing.Store.mu
//	Writer.mu → journal.mu              a change of the journal is queued in state order
//	listing.Store.mu, Cache.mu,
//	journal.mu                          leaves (nothing taken while held)
//	journal.applyMu                     alone (the journal's commit and fsync)
//	upCtl.readMu                        alone (reads of a staging file)
//
// Writer.mu is taken by every lookup, stat and readdir (pendingEntry,
// pendingIn), listing.Store.mu by every listing, blocks.Store.mu by every read of
// cached content. Long work lets go of them: a lost+found copy
// (toLostFoundLocked unlocks Writer.mu around keepInLostFound), a GET,
// a PUT and every wait for an upload (waitLocked) run unlocked; the
// content cache's per-close commit is batched (touchFlushInterval).
// An uploaded file's staging file is adopted as cached content (a rename
// and a directory fsync) after Writer.mu is let go (retireStagingLocked
// decides, the upload goroutine does it). Journal commits (a bbolt
// commit with fsync) are queued under Writer.mu, which keeps the
// journal's order the same as the pending files' states, and committed
// without it (journal.go). No fsync, file copy or request runs with
// Writer.mu held. Methods named ...Locked are called with the lock of
// their receiver held.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odfb/odfb/internal/diskio"
	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/kinds"
	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// Defaults for WriteOptions.
const (
	DefaultWriteBack    = 2 * time.Second
	DefaultTransfers    = 4
	DefaultPutLimit     = 100 << 20
	DefaultChunkSize    = 10 << 20
	DefaultDrainTimeout = 5 * time.Minute
	defaultRetryBase    = 5 * time.Second
	defaultRetryMax     = 10 * time.Minute
)

// WriteOptions configure the write side (staging, journal, uploader).
type WriteOptions struct {
	// WriteBack is how long after the last close a file waits before it
	// is uploaded (a file written again meanwhile is uploaded once).
	WriteBack time.Duration
	// Transfers bounds concurrent uploads.
	Transfers int
	// PutLimit is the largest file sent in one PUT; larger files go
	// through the REST upload session in ChunkSize pieces.
	PutLimit  int64
	ChunkSize int64
	// SyncUpload makes Flush and Fsync wait for the upload and return its
	// error.
	SyncUpload bool
	// DrainTimeout bounds how long Close waits for the queue to empty.
	DrainTimeout time.Duration
	// RetryBase and RetryMax bound the backoff between failed attempts
	// of one upload (doubling from RetryBase; a server's Retry-After wins).
	RetryBase, RetryMax time.Duration
	// Hostname appears in conflict names; default the short hostname.
	Hostname string
}

func (o *WriteOptions) defaults() {
	if o.WriteBack < 0 {
		o.WriteBack = 0
	} else if o.WriteBack == 0 {
		o.WriteBack = DefaultWriteBack
	}
	if o.Transfers <= 0 {
		o.Transfers = DefaultTransfers
	}
	if o.PutLimit <= 0 {
		o.PutLimit = DefaultPutLimit
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.RetryBase <= 0 {
		o.RetryBase = defaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = defaultRetryMax
	}
	if o.Hostname == "" {
		h, _ := os.Hostname()
		if i := strings.IndexByte(h, '.'); i > 0 {
			h = h[:i]
		}
		if h == "" {
			h = "localhost"
		}
		o.Hostname = h
	}
}

// Writer is the write side of a Cache.
type Writer struct {
	h        Host
	jrn      *journal // the upload journal's commits (journal.go)
	cacheDir string
	db       *bolt.DB
	remote   remote.Remote
	now      func() time.Time
	ttl      time.Duration
	opts     WriteOptions
	dir      string // staging/
	lostDir  string // lost+found/
	log      *slog.Logger

	ctx    context.Context // uploads; cancelled at the end of Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}

	mu        sync.Mutex
	byPath    map[string]*pending // fold(path)
	changed   chan struct{}       // closed and replaced on every state change
	active    int                 // uploads running
	lost      []LostItem          // moved to lost+found by this run
	lostOpen  map[*pending]bool   // refused while open: lost+found follows their writes until the last close
	conflicts []ConflictItem
	authErr   string // last authentication failure, "" once an upload worked
	// stalled is set when an upload failed for the credentials or an
	// unreachable server, so that retryFailedNow scans only then.
	stalled atomic.Bool
	closing bool
	// recent holds files this run put on the server (fold(path) → entry)
	// for one DirCacheTime: a listing fetched while the upload ran may
	// not show them yet, and they must not vanish from ls.
	recent map[string]recentEntry
}

type recentEntry struct {
	e  remote.Entry
	at time.Time
}

// pending is a file with local changes: open for writing, or journaled
// and waiting for (or in) its upload.
type pending struct {
	rec  JournalRecord
	base remote.Entry // server entry the edit began from (for lazy fetch)

	f        *os.File // staging file while handles are open
	opens    int
	size     int64
	mtime    time.Time // last local change, shown until uploaded
	fetched  bool      // staging holds the base content (or it is not needed)
	fetchMu  sync.Mutex
	commitMu sync.Mutex

	// state: local, queued, uploading, uploaded, removed or lost
	// (pending_state.go); changed only by Writer.moveLocked.
	state       pstate
	gen         uint64 // bumped by every change of content
	savedGen    uint64 // gen in the journal
	uploadedGen uint64 // gen on the server
	metaDirty   bool   // explicit mtime not yet in the journal
	dirSynced   bool   // staging/ fsynced since the staging file was created (under commitMu)

	// forced counts the waiters (Sync, a --sync-upload flush) that want
	// this file uploaded now: while it is above zero the upload skips
	// the write-back wait and may run while the file is open. Only the
	// waiter that raised it lowers it: a close (FUSE RELEASE arrives
	// after close() returned) or a finished upload must not cancel the
	// force a running Sync relies on.
	forced   int
	readyAt  time.Time // not uploaded before (write-back)
	holds    int       // rename/unlink in progress: do not start uploads
	mutating int       // changes of the staging file in progress: do not start uploads
	up       *upCtl    // the running upload (while uploading)
	tries    int       // attempts finished (success or failure), for sync waits
	lastErr  error     // of the last attempt
	sent     int64     // progress of the running upload
	started  time.Time
	// lostErr is set (a *LostError) when gone because the server refused
	// the file for good: waiters get it instead of success, and so does
	// every later flush and close of the handles still open.
	lostErr error
	// lostGen is the generation copied to lost+found: a file refused
	// while open may be written to afterwards, and those writes go to
	// lost+found too (keepLost).
	lostGen uint64
}

// New starts the write side: it prepares staging/ and lost+found/ in
// the cache directory, loads the journal left by an earlier run (its
// uploads resume at once) and starts the uploader. Close stops it.
func New(o Options) (*Writer, error) {
	opts := o.WriteOptions
	opts.defaults()
	w := &Writer{h: o.Host, cacheDir: o.CacheDir, db: o.DB, remote: o.Remote, now: o.Now, ttl: o.TTL, opts: opts, log: o.Log,
		dir: filepath.Join(o.CacheDir, "staging"), lostDir: filepath.Join(o.CacheDir, "lost+found"),
		wake: make(chan struct{}, 1), byPath: map[string]*pending{}, recent: map[string]recentEntry{}, changed: make(chan struct{}), lostOpen: map[*pending]bool{}}
	for _, d := range []string{w.dir, w.lostDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	if err := syncDir(o.CacheDir); err != nil { // staging/ and lost+found/ themselves
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := w.loadJournal(); err != nil {
		return nil, err
	}
	w.jrn = newJournal(w.db, w.log)
	rctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	w.resolveFinishing(rctx)
	cancel()
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.wg.Add(1)
	go w.run()
	return w, nil
}

// loadJournal makes a queued pending file of each journal record whose
// staging file is there, and deletes staging files no record names.
func (w *Writer) loadJournal() error {
	recs, err := metadb.LoadJournal(w.db)
	if err != nil {
		return fmt.Errorf("upload journal: %w", err)
	}
	known := map[string]bool{}
	for _, r := range recs {
		st, err := os.Stat(filepath.Join(w.dir, r.ID))
		if err != nil {
			w.log.Error("journaled upload has lost its staging file; it cannot be sent", "path", r.Path, "staging", r.ID, "err", err)
			metadb.DeleteRecords(w.db, r.ID)
			continue
		}
		known[r.ID] = true
		p := &pending{rec: r, size: st.Size(), mtime: st.ModTime(), fetched: true, gen: 1, savedGen: 1, state: stateQueued, dirSynced: true}
		if r.ContentDone {
			p.uploadedGen = 1
		}
		if !r.Written.IsZero() {
			p.mtime = r.Written
		}
		if r.ModTimeSet {
			p.mtime = r.ModTime
		}
		p.rec.NextTry = time.Time{} // a new run tries at once
		w.byPath[fold(r.Path)] = p
	}
	if len(recs) > 0 {
		w.log.Info("resuming uploads journaled by an earlier run", "files", len(w.byPath))
	}
	// Staging files no record names were never closed (or were already
	// uploaded): nothing was promised for them.
	if ents, err := os.ReadDir(w.dir); err == nil {
		for _, e := range ents {
			if !known[e.Name()] {
				os.Remove(filepath.Join(w.dir, e.Name()))
			}
		}
	}
	return nil
}

// resolveTimeout bounds what a start spends asking the server about
// uploads cut during their final request (resolveFinishing).
const resolveTimeout = 30 * time.Second

// fetchBuffer is the size of the reads that copy a file's server content
// into staging (the content store's block size).
const fetchBuffer = 256 << 10

// syncDir: diskio.SyncDir.
var syncDir = diskio.SyncDir

// broadcastLocked wakes everyone waiting for a state change.
func (w *Writer) broadcastLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// kick wakes the scheduler.
// waitLocked waits, letting go of w.mu in between, until done (called
// with w.mu held) reports true; each state change (broadcastLocked) asks
// it again. It is called with w.mu held and returns with it held; when
// ctx ends first it returns ctx's error. Every wait of the write side
// for an upload or a hold goes through it, so that none sleeps holding
// the lock lookups take.
func (w *Writer) waitLocked(ctx context.Context, done func() bool) error {
	for !done() {
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			w.mu.Lock()
			return ctx.Err()
		case <-ch:
		}
		w.mu.Lock()
	}
	return nil
}

func (w *Writer) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// entry is what listings show for a pending file.
func (p *pending) entry() remote.Entry {
	mt := p.mtime
	if p.rec.ModTimeSet {
		mt = p.rec.ModTime
	}
	return remote.Entry{Path: p.rec.Path, Size: p.size, ModTime: mt, ServerModTime: p.mtime}
}

// setRecent records (or with a nil entry forgets) a file just uploaded.
func (w *Writer) setRecent(p string, e *remote.Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for k, r := range w.recent {
		if now.Sub(r.at) > w.ttl {
			delete(w.recent, k)
		}
	}
	if e == nil {
		delete(w.recent, fold(p))
		return
	}
	w.recent[fold(p)] = recentEntry{*e, now}
}

// forgetRecentTree forgets recent uploads at or under p.
func (w *Writer) forgetRecentTree(p string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := fold(p)
	for k := range w.recent {
		if k == f || strings.HasPrefix(k, f+"/") {
			delete(w.recent, k)
		}
	}
}

// Pending reports whether the file at p has local changes (open for
// writing or waiting for its upload).
func (w *Writer) Pending(p string) bool {
	_, ok := w.PendingEntry(p)
	return ok
}

// WriteHandle is a file open through the staging area: for writing, or
// for reading a file whose upload is pending. Its methods may be called
// concurrently.
type WriteHandle struct {
	w      *Writer
	p      *pending
	mu     sync.Mutex
	closed bool
}

// OpenWrite opens the file at p through staging. create makes a new file
// (kinds.ErrExists when excl and something is there); trunc empties it (no
// download); otherwise the server's content is fetched into staging the
// first time it is needed (a read, a write, a truncate to a non-zero
// size).
func (w *Writer) OpenWrite(ctx context.Context, p string, create, excl, trunc bool) (*WriteHandle, error) {
	p = remote.Clean(p)
	pd, base, exists, err := w.openTarget(ctx, p, create, excl)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	pd = w.pendingForLocked(p, pd, base, exists)
	if pd.f == nil {
		f, err := os.OpenFile(filepath.Join(w.dir, pd.rec.ID), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			if pd.opens == 0 && !pd.isCommitted() {
				delete(w.byPath, fold(p))
			}
			return nil, fmt.Errorf("staging: %w", err)
		}
		pd.f = f
	}
	pd.opens++
	h := &WriteHandle{w: w, p: pd}
	if trunc && (pd.size != 0 || !pd.fetched) {
		if err := w.truncateOnOpenLocked(ctx, pd); err != nil {
			return nil, err
		}
	} else if trunc && pd.gen == pd.uploadedGen {
		pd.gen++ // truncating an empty file still writes it
	}
	w.broadcastLocked()
	return h, nil
}

// openTarget finds what OpenWrite of p opens: the pending file (pd), or
// the server's file (base, exists), or nothing (a new file, when
// create). It refuses a folder, and an existing name with excl.
func (w *Writer) openTarget(ctx context.Context, p string, create, excl bool) (pd *pending, base remote.Entry, exists bool, err error) {
	w.mu.Lock()
	pd = w.byPath[fold(p)]
	if pd != nil && pd.isGone() {
		pd = nil
	}
	w.mu.Unlock()
	if pd != nil {
		if create && excl {
			return nil, base, false, &kinds.Error{Kind: kinds.ErrExists, Op: "create", Path: p}
		}
		return pd, base, true, nil
	}
	e, err := w.h.Stat(ctx, p)
	switch {
	case err == nil:
		if e.IsDir {
			return nil, base, false, &kinds.Error{Kind: kinds.ErrIsDir, Op: "open", Path: p}
		}
		if create && excl {
			return nil, base, false, &kinds.Error{Kind: kinds.ErrExists, Op: "create", Path: p}
		}
		return nil, e, true, nil
	case errors.Is(err, remote.ErrNotFound) && create:
		return nil, base, false, nil
	default:
		return nil, base, false, err
	}
}

// pendingForLocked returns the pending file OpenWrite of p uses: one
// opened meanwhile, pd, or a new one — of the server's file base when
// exists, else of a new file.
func (w *Writer) pendingForLocked(p string, pd *pending, base remote.Entry, exists bool) *pending {
	if cur := w.byPath[fold(p)]; cur != nil && !cur.isGone() {
		return cur // opened meanwhile
	}
	if pd != nil && !pd.isGone() {
		return pd
	}
	pd = &pending{rec: JournalRecord{ID: metadb.NewID(), Path: p}, mtime: w.now()}
	if exists {
		pd.base = base
		pd.rec.Path = base.Path
		pd.rec.BaseETag = base.ETag
		pd.size = base.Size
		pd.fetched = base.Size == 0
		pd.mtime = base.ModTime
	} else {
		pd.rec.New = true
		pd.fetched = true
		pd.gen = 1 // a new file is a change even when left empty
	}
	w.byPath[fold(p)] = pd
	return pd
}

// truncateOnOpenLocked empties pd's staging file for an open with
// O_TRUNC. The staging file changes: an upload of it that is running is
// cancelled first (stopUpload), without w.mu, which it lets go of and
// takes again. On failure the open is undone.
func (w *Writer) truncateOnOpenLocked(ctx context.Context, pd *pending) error {
	w.mu.Unlock()
	err := w.stopUpload(ctx, pd)
	if err == nil {
		err = pd.f.Truncate(0)
	}
	w.mu.Lock()
	pd.mutating--
	if err != nil {
		pd.opens--
		w.broadcastLocked()
		w.kick()
		return fmt.Errorf("staging: %w", err)
	}
	pd.size, pd.fetched = 0, true
	pd.gen++
	pd.mtime = w.now()
	w.kick() // an upload may wait for this truncate (mutating)
	return nil
}

// stopUpload is called before the staging file of p changes (a write, a
// truncate): the content being uploaded must not change under the
// uploader, or the server would get bytes of both versions. It marks p
// as being changed (mutating, which keeps uploads from starting: the
// caller lowers it under w.mu once the change is done, also on error),
// then:
//   - a running upload that nobody waits for is cancelled, and stopUpload
//     waits until the uploader has let go of the file. A cancelled PUT is
//     cut before its last byte (progressReader refuses to read on), so
//     the server commits nothing; a REST session is cancelled and its id
//     forgotten (the journal too). The file goes up again after its last
//     close, as usual; the cancelled attempt is no failure.
//   - an upload that is committing (its last byte read, or FinishUpload
//     sent) or that a Sync or a --sync-upload flush waits for (forced)
//     is not cancelled: stopUpload waits for it to end. That version is
//     complete and consistent, and Sync gets the version it waits for.
//   - a REST session left by an earlier attempt (failed, or from an
//     earlier run) is cancelled: resuming it would finish the new content
//     onto the old version's chunks.
func (w *Writer) stopUpload(ctx context.Context, p *pending) error {
	w.mu.Lock()
	p.mutating++
	err := w.waitLocked(ctx, func() bool {
		if !p.isUploading() {
			return true
		}
		if ctl := p.up; ctl != nil && p.forced == 0 && !ctl.finishing && !ctl.canceled {
			ctl.canceled = true
			if !ctl.starting { // a StartUpload ends by itself (upCtl.starting)
				ctl.cancel()
			}
			w.log.Info("file changed during its upload; the upload is cancelled and goes again after the last close", "path", p.rec.Path)
		}
		return false
	})
	if err != nil {
		w.mu.Unlock()
		return err
	}
	stale := p.rec.UploadID != ""
	w.mu.Unlock()
	if stale {
		w.dropSession(p)
	}
	return nil
}

// dropSession cancels p's REST upload session, if any, and forgets it in
// the journal, so that no later attempt resumes it with other content.
func (w *Writer) dropSession(p *pending) {
	w.abandonSession(w.ctx, p) // what fails stays in the record for the next attempt
	w.mu.Lock()
	if !p.isCommitted() || p.isGone() {
		w.mu.Unlock()
		return
	}
	res := w.jrn.put(p.rec)
	w.mu.Unlock()
	// Durable before the staging file changes: after a crash, the old
	// session must not be resumed with the new content.
	w.jrn.wait(res)
}

// ensureFetched copies the server's content into staging, once.
func (h *WriteHandle) ensureFetched(ctx context.Context) error {
	p := h.p
	p.fetchMu.Lock()
	defer p.fetchMu.Unlock()
	h.w.mu.Lock()
	done, base := p.fetched, p.base
	h.w.mu.Unlock()
	if done {
		return nil
	}
	src, err := h.w.h.OpenContent(base)
	if err != nil {
		return err
	}
	defer src.Close()
	buf := make([]byte, fetchBuffer)
	for off := int64(0); off < base.Size; {
		n, err := src.ReadAt(ctx, buf, off)
		if n > 0 {
			if _, werr := h.p.f.WriteAt(buf[:n], off); werr != nil {
				return fmt.Errorf("staging: %w", werr)
			}
			off += int64(n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n == 0 && err != nil {
			break
		}
	}
	h.w.mu.Lock()
	p.fetched = true
	h.w.mu.Unlock()
	return nil
}

// Path returns the server path of the file (after renames, the new one).
func (h *WriteHandle) Path() string {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.p.rec.Path
}

// Size returns the staged size.
func (h *WriteHandle) Size() int64 {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.p.size
}

// Unlinked reports whether the file was removed (or replaced by a
// rename) while this handle was open.
func (h *WriteHandle) Unlinked() bool {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.p.isGone()
}

// Entry returns the entry listings show for this file.
func (h *WriteHandle) Entry() remote.Entry {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	return h.p.entry()
}

func (h *WriteHandle) check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return os.ErrClosed
	}
	return nil
}

// ReadAt reads staged content.
func (h *WriteHandle) ReadAt(ctx context.Context, b []byte, off int64) (int, error) {
	if err := h.check(); err != nil {
		return 0, err
	}
	if err := h.ensureFetched(ctx); err != nil {
		return 0, err
	}
	size := h.Size()
	if off >= size {
		return 0, io.EOF
	}
	if int64(len(b)) > size-off {
		b = b[:size-off]
	}
	n, err := h.p.f.ReadAt(b, off)
	if errors.Is(err, io.EOF) && n == len(b) {
		err = nil
	}
	if errors.Is(err, io.EOF) { // a hole at the end (extended by truncate)
		clear(b[n:])
		n, err = len(b), nil
	}
	return n, err
}

// WriteAt writes to staging.
func (h *WriteHandle) WriteAt(ctx context.Context, b []byte, off int64) (int, error) {
	if err := h.check(); err != nil {
		return 0, err
	}
	if err := h.ensureFetched(ctx); err != nil {
		return 0, err
	}
	w := h.w
	if err := w.stopUpload(ctx, h.p); err != nil {
		w.mu.Lock()
		h.p.mutating--
		w.mu.Unlock()
		w.kick()
		return 0, err
	}
	n, err := h.p.f.WriteAt(b, off)
	w.mu.Lock()
	h.p.mutating--
	if end := off + int64(n); end > h.p.size {
		h.p.size = end
	}
	if n > 0 {
		h.p.gen++
		h.p.mtime = w.now()
	}
	held := h.p.forced > 0 || w.closing // an upload may wait for this write
	w.mu.Unlock()
	if held {
		w.kick()
	}
	if err != nil {
		return n, fmt.Errorf("staging: %w", err)
	}
	return n, nil
}

// Truncate sets the staged size.
func (h *WriteHandle) Truncate(ctx context.Context, size int64) error {
	if err := h.check(); err != nil {
		return err
	}
	if size != 0 {
		if err := h.ensureFetched(ctx); err != nil {
			return err
		}
	}
	w := h.w
	err := w.stopUpload(ctx, h.p)
	if err == nil {
		if err = h.p.f.Truncate(size); err != nil {
			err = fmt.Errorf("staging: %w", err)
		}
	}
	w.mu.Lock()
	h.p.mutating--
	if err != nil {
		w.mu.Unlock()
		w.kick()
		return err
	}
	h.p.size = size
	if size == 0 {
		h.p.fetched = true
	}
	h.p.gen++
	h.p.mtime = w.now()
	w.broadcastLocked()
	w.mu.Unlock()
	w.kick() // an upload may wait for this truncate (mutating)
	return nil
}

// Flush makes the staged data durable (fsync, journal record). With
// SyncUpload it also waits for the upload and returns its error. Called
// at every close() of a descriptor.
func (h *WriteHandle) Flush(ctx context.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	return h.w.commit(ctx, h.p, h.w.opts.SyncUpload)
}

// Close releases the handle. The file is uploaded WriteBack after the
// last handle closes. Changes not yet flushed are committed first.
func (h *WriteHandle) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	w := h.w
	err := w.commit(context.Background(), h.p, false)
	if le := (*LostError)(nil); errors.As(err, &le) {
		// Refused for good while open: the flush of each close(2) says
		// so, and commit copied what was left to lost+found (logged).
		// A release has no one to tell.
		err = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p := h.p
	p.opens--
	if p.opens > 0 {
		return err
	}
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	delete(w.lostOpen, p)
	// A Sync or --sync-upload flush waiting for this file keeps forcing
	// it (forced): the write-back delay applies only when nobody waits.
	p.readyAt = w.now().Add(w.opts.WriteBack)
	switch {
	case p.isGone() && p.lostErr != nil && p.gen != p.lostGen:
		// Written after the refusal and the copy to lost+found failed
		// (logged by keepLost): the staging file replaces that copy.
		le := p.lostErr.(*LostError)
		if rerr := os.Rename(filepath.Join(w.dir, p.rec.ID), le.File); rerr != nil {
			w.log.Error("cannot keep the writes made after the server refused this file; they stay in the staging file until the next mount",
				"path", le.Path, "staging", filepath.Join(w.dir, p.rec.ID), "lost+found", le.File, "err", rerr)
		} else {
			p.lostGen = p.gen
			syncDir(filepath.Dir(le.File))
		}
	case p.isGone():
		if !p.isUploading() {
			os.Remove(filepath.Join(w.dir, p.rec.ID))
		}
	case !p.isCommitted() && p.gen == p.uploadedGen:
		// Opened for writing, never changed: nothing to send.
		if w.byPath[fold(p.rec.Path)] == p {
			delete(w.byPath, fold(p.rec.Path))
		}
		os.Remove(filepath.Join(w.dir, p.rec.ID))
	}
	w.broadcastLocked()
	w.kick()
	return err
}

// commit fsyncs staging and writes the journal record when there is
// something new; with wait it then waits for the upload of that version.
func (w *Writer) commit(ctx context.Context, p *pending, wait bool) error {
	p.commitMu.Lock()
	w.mu.Lock()
	if p.isGone() {
		// Unlinked (nil), or refused for good and kept in lost+found:
		// with or without --sync-upload, the application hears of it,
		// and what it wrote since goes to lost+found too.
		w.mu.Unlock()
		err := w.keepLost(p)
		p.commitMu.Unlock()
		return err
	}
	gen, dirty := p.gen, p.gen != p.savedGen || p.metaDirty
	needUpload := p.gen != p.uploadedGen || (p.rec.ModTimeSet && !p.isCommitted() && p.metaDirty)
	if !dirty && !needUpload {
		w.mu.Unlock()
		p.commitMu.Unlock()
		return nil
	}
	f := p.f
	w.mu.Unlock()
	if dirty {
		if err := w.syncStaging(p, f); err != nil {
			p.commitMu.Unlock()
			return err
		}
		w.mu.Lock()
		rec := p.rec
		rec.Size = p.size
		rec.Written = p.mtime
		if rec.Queued.IsZero() {
			rec.Queued = w.now()
		}
		if gen != p.uploadedGen {
			rec.ContentDone = false
		}
		res := w.jrn.put(rec)
		w.mu.Unlock()
		if err := w.jrn.wait(res); err != nil {
			p.commitMu.Unlock()
			return fmt.Errorf("upload journal: %w", err)
		}
		w.mu.Lock()
		if p.isGone() {
			// Unlinked or refused while we wrote: take the record back
			// out.
			w.jrn.del(rec.ID, rec.Path, nil)
			w.mu.Unlock()
			w.jrn.flush()
			err := w.keepLost(p)
			p.commitMu.Unlock()
			return err
		}
		p.rec.Size, p.rec.Queued, p.rec.ContentDone, p.rec.Written = rec.Size, rec.Queued, rec.ContentDone, rec.Written
		p.savedGen = gen
		p.metaDirty = false
		w.journaledLocked(p)
		if p.opens == 0 && p.readyAt.IsZero() {
			p.readyAt = w.now().Add(w.opts.WriteBack)
		}
		w.broadcastLocked()
		w.mu.Unlock()
	}
	p.commitMu.Unlock()
	if !wait {
		w.kick()
		return nil
	}
	return w.waitUploaded(ctx, p, gen)
}

// syncStaging makes p's staging file f durable, and the first time its
// directory entry too: both must survive a power cut before the journal
// names the file. Called with p.commitMu held.
func (w *Writer) syncStaging(p *pending, f *os.File) error {
	if f != nil {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("staging fsync: %w", err)
		}
	}
	if !p.dirSynced {
		if err := syncDir(w.dir); err != nil {
			return fmt.Errorf("staging fsync: %w", err)
		}
		p.dirSynced = true
	}
	return nil
}

// waitUploaded forces p's upload and waits until generation gen is on
// the server or an attempt failed.
func (w *Writer) waitUploaded(ctx context.Context, p *pending, gen uint64) error {
	w.mu.Lock()
	p.forced++
	p.rec.NextTry = time.Time{}
	tries := p.tries
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		p.forced--
		w.mu.Unlock()
	}()
	w.kick()
	var err error
	w.mu.Lock()
	werr := w.waitLocked(ctx, func() bool {
		content, done := p.uploadedLocked(gen)
		switch {
		case p.isGone():
			// Unlinked meanwhile (nil), or refused for good and moved to
			// lost+found: the application must hear of that.
			err = p.lostErr
		case done, content && p.tries > tries:
			// A flush waits for the content: once an attempt since it
			// began has ended with the content up, an mtime still to set
			// (retried in the background) does not fail it.
			err = nil
		case p.tries > tries && p.lastErr != nil && !p.isUploading():
			err = p.lastErr
		default:
			return false
		}
		return true
	})
	w.mu.Unlock()
	if werr != nil {
		return werr
	}
	return err
}

// uploadedLocked is the one answer to "is version gen of p on the
// server", for Sync and for a --sync-upload Flush/Fsync alike. content:
// no attempt is running and one has sent that version's content (or a
// later one's); done: and nothing is left to send for it — no mtime still
// to set, which ContentDone && ModTimeSet would say (the content is up,
// its mtime not yet).
func (p *pending) uploadedLocked(gen uint64) (content, done bool) {
	content = p.uploadedGen >= gen && !p.isUploading()
	return content, content && !(p.rec.ContentDone && p.rec.ModTimeSet)
}

// Fsync is Flush for fsync(2).
func (h *WriteHandle) Fsync(ctx context.Context) error { return h.Flush(ctx) }

// SetModTime records an explicit mtime for p. A pending file carries it
// in its journal record (written after the content, one PROPPATCH); a
// file with no local changes gets it on the server at once.
func (w *Writer) SetModTime(ctx context.Context, p string, t time.Time) error {
	p = remote.Clean(p)
	w.mu.Lock()
	pd := w.byPath[fold(p)]
	if pd != nil && !pd.isGone() {
		pd.rec.ModTime, pd.rec.ModTimeSet = t, true
		pd.metaDirty = true
		committed, open := pd.isCommitted(), pd.opens > 0
		w.broadcastLocked()
		w.mu.Unlock()
		if committed || !open {
			if pd.gen == pd.uploadedGen && !pd.isUploading() {
				// Content already on the server: only the mtime is left.
				w.mu.Lock()
				pd.rec.ContentDone = true
				w.mu.Unlock()
			}
			return w.commit(ctx, pd, false)
		}
		return nil
	}
	w.mu.Unlock()
	e, err := w.h.Stat(ctx, p)
	if err != nil {
		return err
	}
	if err := w.remote.SetModTime(ctx, e.Path, t); err != nil {
		return err
	}
	e.ModTime = t
	w.h.SetEntry(e)
	return nil
}

// Truncate sets the size of the file at p (setattr without a handle).
// The change is journaled but, even with SyncUpload, not waited for: the
// kernel sends open(O_TRUNC) of an existing file as this truncate followed
// by the open, and uploading the empty file at once would empty the
// server's copy before the new content is written (and keep it empty if
// that content is then refused).
func (w *Writer) Truncate(ctx context.Context, p string, size int64) error {
	h, err := w.OpenWrite(ctx, p, false, false, size == 0)
	if err != nil {
		return err
	}
	if size != 0 || h.Size() != 0 {
		if err := h.Truncate(ctx, size); err != nil {
			h.Close()
			return err
		}
	}
	if err := h.w.commit(ctx, h.p, false); err != nil {
		h.Close()
		return err
	}
	return h.Close()
}
