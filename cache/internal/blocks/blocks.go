package blocks

// Lock order in this file (the whole list, with the cache's locks, is
// at the top of cache/staging.go; a lock on the left may be held while
// taking one on its right):
//
//	Handle.mu → Store.mu → Options.Reach (reach.State.mu: Offline, MayAsk)
//	cfile.persistMu → Store.mu
//
// Store.mu guards the open files (files, each cfile's bitmap,
// inflight and flags), used and touched. Reads wait on it, so nothing
// here fsyncs or copies a file while holding it on the paths every
// cached read takes: a last close records the file's last use in
// touched, and flushTouches commits those in one transaction outside
// the lock (see touchFlushInterval); a fetch commits its bitmap outside
// it too (persistFetched). Still under it: the commits of rarer events
// — a new record at the first open of a version, removing records when
// a version is replaced, dropped or evicted, adopting an uploaded
// file — none of them an fsync of content. Methods named ...Locked are
// called with Store.mu held.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/odfb/odfb/internal/diskio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// Read-ahead parameters (see the package comment).
const (
	// BlockSize is the unit of the content cache and the smallest GET: what
	// a random read costs. Small enough that a random 4 KiB read moves
	// 256 KiB (not 1 MiB: restic and other backup tools read pack files
	// at random offsets), large enough that a file's bitmap stays small
	// (one bit per block: 119 KiB for a 250 GB file) and a sequential
	// window is a few hundred blocks at most. Records written with
	// another block size are dropped when the cache opens
	// (metadb.ContentRecord.BlockSize).
	BlockSize = 256 << 10
	// FirstReadAhead is the first window of a sequential reader, in
	// bytes (a multiple of BlockSize); each GET doubles it.
	FirstReadAhead = 1 << 20
	// MaxReadAhead is the largest window a sequential reader fetches in
	// one GET (a multiple of BlockSize).
	MaxReadAhead = 32 << 20
	// seqSlack is how far from the end of the previous read a read may
	// start and still count as sequential (the kernel may deliver
	// read-ahead requests slightly out of order).
	seqSlack = 2 << 20
	// DefaultFetches bounds concurrent GETs per cache when
	// Options.MaxFetches is 0 (each streams through a 32 KiB copy
	// buffer, so it bounds memory too).
	DefaultFetches = 4
	// minPiece is the smallest part of a read-ahead window sent as a
	// GET of its own (in blocks: 1 MiB): below it the request's round
	// trip costs more than the parallelism wins.
	minPiece = (1 << 20) / BlockSize
	// touchFlushInterval is how often the last-use times of closed
	// files are written to meta.db, in one transaction, outside the
	// store's lock. A last close used to commit (with fsync) under
	// that lock: most of the cost of a cached open/read/close, and
	// every read of another file waited for it. What a crash loses is
	// the last-use time of files closed since the last flush (at most
	// this long): their records keep an older time, so the LRU may
	// evict them a little sooner. Never content: a bitmap is committed
	// when its blocks are (fetch), so no record claims a block that is
	// not on disk. Close flushes what is left.
	touchFlushInterval = 10 * time.Second
)

// VersionOf names the version of a file's content: its ETag, or size and
// mtime when the server sends no ETag.
func VersionOf(e remote.Entry) string {
	if e.ETag != "" {
		return e.ETag
	}
	return "size=" + strconv.FormatInt(e.Size, 10) + ";mtime=" + strconv.FormatInt(e.ModTime.UnixNano(), 10)
}

// Reach is what the store asks of the server's reachability (the
// cache's reach.State).
type Reach interface {
	MayAsk() (ok bool, until time.Time)
	NoteAnswer(err error)
	Offline() bool
}

// Options are what the store needs from the cache that owns it.
type Options struct {
	Dir      string // the content directory (created 0700)
	CacheDir string // the cache directory, for log lines
	Limit    int64  // --cache-size
	DB       *bolt.DB
	Log      *slog.Logger
	Now      func() time.Time
	Remote   remote.Remote
	Reach    Reach
	// MaxFetches bounds the GETs in flight (--max-concurrent); a
	// sequential read-ahead window is split into up to this many ranged
	// GETs sent at once. 0 means DefaultFetches.
	MaxFetches int
	// Ctx lives until the cache closes; fetches run on it and are
	// counted in WG.
	Ctx context.Context
	WG  *sync.WaitGroup
	// Invalidate asks for a new listing of a folder (a file changed on
	// the server while read).
	Invalidate func(dir string)
	// NotCached and Changed make the cache's errors for a read that
	// would need the server while it is away, and for a version
	// replaced on the server while open.
	NotCached func(path string, until time.Time) error
	Changed   func(path string) error
}

// Store is the on-disk content cache.
type Store struct {
	o     Options
	dir   string
	limit int64
	sem   chan struct{}

	mu    sync.Mutex
	files map[string]*cfile // open (or fetching) files, key metadb.Key(path)
	used  int64             // bytes present over all records
	// freed counts removals of cached files (evictions): a write that
	// failed for lack of room may try again when another fetch made room
	// meanwhile.
	freed atomic.Uint64
	// fullWarned holds the files (metadb.Key(path)) already logged as read
	// past the cache because its disk is full; emptied when a download
	// is stored again.
	fullWarned map[string]bool
	// touched holds the last-use times of closed files (key
	// metadb.Key(path)) not yet written to meta.db (flushTouches).
	touched   map[string]time.Time
	flushDone chan struct{} // closed when flushLoop returns
}

// cfile is one cached version of a file while it is in use.
type cfile struct {
	store *Store
	key   string
	rec   metadb.ContentRecord
	f     *os.File
	refs  int  // handles + running fetches
	gone  bool // replaced or dropped: delete the data at last release
	// persistMu orders the bitmap commits of fetches (persistFetched);
	// taken before store.mu.
	persistMu sync.Mutex

	// guarded by store.mu
	present  []uint64
	inflight map[int64]*fetchWait
	dirty    bool
	// syncing: a fetch is making the stored blocks durable
	// (syncStored); syncWanted: another one asked for a round after it.
	syncing, syncWanted bool
	// direct: the cache disk was full even after eviction; reads of
	// blocks not cached go straight to the caller (readDirect) for as
	// long as this version stays open.
	direct bool
}

type fetchWait struct {
	done chan struct{}
	err  error
}

func New(o Options) (*Store, error) {
	dir := o.Dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("content cache: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("content cache: %w", err)
	}
	if o.MaxFetches <= 0 {
		o.MaxFetches = DefaultFetches
	}
	s := &Store{o: o, dir: dir, limit: o.Limit, files: map[string]*cfile{}, sem: make(chan struct{}, o.MaxFetches), fullWarned: map[string]bool{},
		touched: map[string]time.Time{}}
	known := map[string]bool{}
	var stale [][]byte
	err := o.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(metadb.BucketContent).ForEach(func(k, v []byte) error {
			var r metadb.ContentRecord
			if json.Unmarshal(v, &r) != nil {
				return nil
			}
			if r.BlockSize != BlockSize {
				// Its bitmap counts blocks of another size: it would
				// claim bytes that are not there.
				stale = append(stale, append([]byte(nil), k...))
				return nil
			}
			s.used += r.Bytes
			known[r.File] = true
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if len(stale) > 0 {
		err := o.DB.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(metadb.BucketContent)
			for _, k := range stale {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("content cache: %w", err)
		}
		o.Log.Info("dropped cached content stored with another block size", "files", len(stale), "block_size", BlockSize)
	}
	// Files no record names (a crash between creating and recording, an
	// older schema, another block size) are removed.
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if !known[e.Name()] {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	s.flushDone = make(chan struct{})
	go s.flushLoop(o.Ctx)
	return s, nil
}

// close stores every open file's record and the last-use times not yet
// flushed. Fetches have stopped and Cache.bg is cancelled.
func (s *Store) Close() {
	<-s.flushDone
	s.mu.Lock()
	for _, cf := range s.files {
		s.persistLocked(cf)
		if cf.f != nil {
			cf.f.Close()
			cf.f = nil
		}
	}
	s.mu.Unlock()
	s.flushTouches()
}

// flushLoop writes last-use times every touchFlushInterval until ctx
// ends (Close flushes the rest). It is not counted in Cache.wg, which
// counts fetches (tests wait on it).
func (s *Store) flushLoop(ctx context.Context) {
	defer close(s.flushDone)
	t := time.NewTicker(touchFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.flushTouches()
		}
	}
}

// flushTouches writes the last-use times collected by release to their
// records in one transaction, without holding s.mu. Each record is read
// and written in that transaction, so a record removed meanwhile stays
// removed and a newer bitmap is kept; a time only moves forward.
func (s *Store) flushTouches() {
	s.mu.Lock()
	touched := s.touched
	s.touched = map[string]time.Time{}
	s.mu.Unlock()
	if len(touched) == 0 {
		return
	}
	err := s.o.DB.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(metadb.BucketContent)
		for key, at := range touched {
			v := b.Get([]byte(key))
			if v == nil {
				continue
			}
			var r metadb.ContentRecord
			if json.Unmarshal(v, &r) != nil || !r.LastUsed.Before(at) {
				continue
			}
			r.LastUsed = at
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(key), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.o.Log.Warn("cannot store last-use times of cached content", "files", len(touched), "err", err)
	}
}

// FileName is the name under the content directory of path's version.
func FileName(path, version string) string {
	sum := sha256.Sum256([]byte(metadb.Key(path) + "\x00" + version))
	return hex.EncodeToString(sum[:16]) + ".data"
}

func nblocks(size int64) int64 { return (size + BlockSize - 1) / BlockSize }

func (cf *cfile) has(b int64) bool { return cf.present[b/64]&(1<<(uint(b)%64)) != 0 }

func (cf *cfile) blockLen(b int64) int64 {
	return min(BlockSize, cf.rec.Size-b*BlockSize)
}

// acquire returns the cached file for entry e (creating it), referenced.
func (s *Store) acquire(e remote.Entry) (*cfile, error) {
	key := metadb.Key(e.Path)
	ver := VersionOf(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cf := s.files[key]; cf != nil {
		if cf.rec.ETag == ver && cf.rec.Size == e.Size {
			cf.refs++
			cf.rec.LastUsed = s.o.Now()
			return cf, nil
		}
		s.retireLocked(cf)
	}
	var rec metadb.ContentRecord
	found, err := metadb.GetJSON(s.o.DB, metadb.BucketContent, key, &rec)
	if err != nil {
		return nil, err
	}
	if found && (rec.ETag != ver || rec.Size != e.Size || rec.BlockSize != BlockSize) {
		s.removeRecordLocked(key, rec)
		found = false
	}
	if !found {
		rec = metadb.ContentRecord{Path: e.Path, ETag: ver, Size: e.Size, File: FileName(e.Path, ver), BlockSize: BlockSize}
	}
	f, err := os.OpenFile(filepath.Join(s.dir, rec.File), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("content cache: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Size() != rec.Size {
		if err := f.Truncate(rec.Size); err != nil { // sparse: no space used yet
			f.Close()
			return nil, fmt.Errorf("content cache: %w", err)
		}
	}
	cf := &cfile{store: s, key: key, rec: rec, f: f, refs: 1, inflight: map[int64]*fetchWait{}}
	cf.present = make([]uint64, (nblocks(rec.Size)+63)/64)
	for i := range cf.present {
		for j := 0; j < 8 && i*8+j < len(rec.Blocks); j++ {
			cf.present[i] |= uint64(rec.Blocks[i*8+j]) << (8 * j)
		}
	}
	cf.rec.LastUsed = s.o.Now()
	if !found {
		cf.dirty = true
		s.persistLocked(cf)
	}
	s.files[key] = cf
	return cf, nil
}

// release drops one reference; at the last one the bitmap is stored and
// the file closed (or deleted when it was replaced meanwhile).
func (s *Store) release(cf *cfile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cf.refs--
	if cf.refs > 0 {
		return
	}
	if cf.gone {
		cf.f.Close()
		os.Remove(cf.f.Name())
		return
	}
	if cf.dirty {
		// Blocks whose fetch did not store the bitmap (it failed):
		// rare, and the record must say what is there.
		s.persistLocked(cf)
	}
	s.touched[cf.key] = cf.rec.LastUsed // flushTouches writes it
	cf.f.Close()
	if s.files[cf.key] == cf {
		delete(s.files, cf.key)
	}
	s.evictLocked()
}

// retireLocked detaches cf from the store: its record is removed now, its
// data when the last reference goes.
func (s *Store) retireLocked(cf *cfile) {
	if s.files[cf.key] == cf {
		delete(s.files, cf.key)
	}
	s.used -= cf.rec.Bytes
	if err := metadb.Delete(s.o.DB, metadb.BucketContent, cf.key); err != nil {
		s.o.Log.Warn("cannot remove content record", "path", cf.rec.Path, "err", err)
	}
	cf.gone = true
	if cf.refs == 0 {
		cf.f.Close()
		os.Remove(cf.f.Name())
	}
}

func (s *Store) removeRecordLocked(key string, rec metadb.ContentRecord) {
	s.used -= rec.Bytes
	os.Remove(filepath.Join(s.dir, rec.File))
	s.freed.Add(1)
	if err := metadb.Delete(s.o.DB, metadb.BucketContent, key); err != nil {
		s.o.Log.Warn("cannot remove content record", "path", rec.Path, "err", err)
	}
}

// drop removes cached content of path unless it is of version keep
// (keep "" drops any version). Open files lose their data at last close.
func (s *Store) Drop(path, keep string) {
	key := metadb.Key(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cf := s.files[key]; cf != nil {
		if keep == "" || cf.rec.ETag != keep {
			s.retireLocked(cf)
		}
		return
	}
	var rec metadb.ContentRecord
	if found, _ := metadb.GetJSON(s.o.DB, metadb.BucketContent, key, &rec); found && (keep == "" || rec.ETag != keep) {
		s.removeRecordLocked(key, rec)
	}
}

// dropTree removes cached content of every file under dir.
func (s *Store) DropTree(dir string) {
	prefix := metadb.Key(dir) + "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, cf := range s.files {
		if strings.HasPrefix(k, prefix) {
			s.retireLocked(cf)
		}
	}
	var gone []string
	var recs []metadb.ContentRecord
	s.o.DB.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(metadb.BucketContent).Cursor()
		for k, v := cur.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = cur.Next() {
			var r metadb.ContentRecord
			if json.Unmarshal(v, &r) == nil {
				gone, recs = append(gone, string(k)), append(recs, r)
			}
		}
		return nil
	})
	for i, k := range gone {
		s.removeRecordLocked(k, recs[i])
	}
}

// adopt makes the file at src (a staging file just uploaded, on the same
// file system) the cached content of path at version etag, every block
// present: reading back what was just written costs no GET. It replaces
// any other cached version of path, counts toward --cache-size like
// downloaded content (and may be evicted like it), and reports whether
// it took the file; when it did not, src is left to the caller. A path
// open (or being fetched) in the store is left alone.
func (s *Store) Adopt(path, etag string, size int64, src string) bool {
	key := metadb.Key(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[key] != nil {
		return false
	}
	var old metadb.ContentRecord
	if found, err := metadb.GetJSON(s.o.DB, metadb.BucketContent, key, &old); err != nil {
		return false
	} else if found {
		s.removeRecordLocked(key, old)
	}
	n := nblocks(size)
	rec := metadb.ContentRecord{Path: path, ETag: etag, Size: size, File: FileName(path, etag), Bytes: size,
		LastUsed: s.o.Now(), BlockSize: BlockSize}
	present := make([]uint64, (n+63)/64)
	for b := int64(0); b < n; b++ {
		present[b/64] |= 1 << (uint(b) % 64)
	}
	rec.Blocks = encodeBlocks(present)
	dst := filepath.Join(s.dir, rec.File)
	if err := os.Rename(src, dst); err != nil {
		s.o.Log.Debug("cannot move an uploaded file into the content cache", "path", path, "err", err)
		return false
	}
	// The data was fsynced when it was committed; the rename must be on
	// disk before a record claims the blocks (a record over a lost file
	// would read as zeros).
	if err := syncDir(s.dir); err != nil {
		os.Remove(dst)
		return true
	}
	if err := metadb.PutJSON(s.o.DB, metadb.BucketContent, key, rec); err != nil {
		s.o.Log.Warn("cannot store content record", "path", path, "err", err)
		os.Remove(dst)
		return true
	}
	s.used += size
	s.evictLocked()
	return true
}

// encodeBlocks is the stored form of a block bitmap: its words, little
// endian, eight bytes each.
func encodeBlocks(present []uint64) []byte {
	blocks := make([]byte, len(present)*8)
	for i, w := range present {
		for j := 0; j < 8; j++ {
			blocks[i*8+j] = byte(w >> (8 * j))
		}
	}
	return blocks
}

// persistLocked stores cf's record with its bitmap.
func (s *Store) persistLocked(cf *cfile) {
	if cf.gone || !cf.dirty {
		return
	}
	cf.rec.Blocks = encodeBlocks(cf.present)
	if err := metadb.PutJSON(s.o.DB, metadb.BucketContent, cf.key, cf.rec); err != nil {
		s.o.Log.Warn("cannot store content record", "path", cf.rec.Path, "err", err)
		return
	}
	cf.dirty = false
}

// evictLocked removes least recently used files that are not open until
// the cache fits its limit.
func (s *Store) evictLocked() {
	if s.used <= s.limit {
		return
	}
	for _, cd := range s.lruLocked() {
		if s.used <= s.limit {
			return
		}
		s.o.Log.Debug("evicting cached content", "path", cd.rec.Path, "bytes", cd.rec.Bytes)
		s.removeRecordLocked(cd.key, cd.rec)
	}
}

// lruLocked returns the records of files that are not open, least
// recently used first.
func (s *Store) lruLocked() []contentRecordKey {
	var all []contentRecordKey
	s.o.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(metadb.BucketContent).ForEach(func(k, v []byte) error {
			if s.files[string(k)] != nil {
				return nil // open or being fetched: never evicted
			}
			var r metadb.ContentRecord
			if json.Unmarshal(v, &r) == nil {
				if at, ok := s.touched[string(k)]; ok && r.LastUsed.Before(at) {
					r.LastUsed = at // not flushed yet
				}
				all = append(all, contentRecordKey{string(k), r})
			}
			return nil
		})
	})
	sort.Slice(all, func(i, j int) bool { return all[i].rec.LastUsed.Before(all[j].rec.LastUsed) })
	return all
}

type contentRecordKey struct {
	key string
	rec metadb.ContentRecord
}

// makeRoom evicts least recently used content that is not open until
// need bytes are freed (the cache disk is full, whatever --cache-size
// says). It reports whether writing again may succeed: something was
// freed, here or (since the failed write, which saw freed at since) by
// another fetch.
func (s *Store) makeRoom(need int64, since uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed.Load() != since {
		return true
	}
	var freed int64
	for _, cd := range s.lruLocked() {
		if freed >= need {
			break
		}
		s.o.Log.Info("cache disk full: evicting cached content", "path", cd.rec.Path, "bytes", cd.rec.Bytes)
		s.removeRecordLocked(cd.key, cd.rec)
		freed += cd.rec.Bytes
	}
	return freed > 0
}

// DiskError is a failure of the local disk that holds the cache
// directory — ENOSPC, EIO of the disk, … — while odfb stored something
// for the file at Path. It is not a server error: it unwraps to the
// *os.PathError, so the application sees its errno.
type DiskError struct {
	Op   string // what odfb was doing ("content cache write")
	Path string // the library file it was for
	Err  error
}

func (e *DiskError) Error() string {
	return e.Op + " for " + e.Path + " (local disk): " + e.Err.Error()
}

func (e *DiskError) Unwrap() error { return e.Err }

// noSpace reports whether err (from the file system) means the local
// disk, or the user's quota on it, has no room left.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// cacheFull reports whether err is a *DiskError for a full disk.
func cacheFull(err error) bool {
	var de *DiskError
	return errors.As(err, &de) && noSpace(de.Err)
}

// startFetchLocked begins one GET for the run of missing, not yet
// requested blocks starting at b, at most n blocks long. It returns the
// number of blocks requested (0 when b is present or already coming).
func (cf *cfile) startFetchLocked(b, n int64) int64 {
	if cf.direct {
		return 0 // the cache disk is full: readDirect
	}
	total := nblocks(cf.rec.Size)
	var cnt int64
	for b+cnt < total && cnt < n && !cf.has(b+cnt) && cf.inflight[b+cnt] == nil {
		cnt++
	}
	if cnt == 0 {
		return 0
	}
	waits := make([]*fetchWait, cnt)
	for i := range waits {
		waits[i] = &fetchWait{done: make(chan struct{})}
		cf.inflight[b+int64(i)] = waits[i]
	}
	cf.refs++
	s := cf.store
	s.o.WG.Add(1)
	go func() {
		defer s.o.WG.Done()
		defer s.release(cf)
		cf.fetch(b, waits)
	}()
	return cnt
}

// startWindowLocked requests the read-ahead window of n blocks from b
// as several ranged GETs sent at once — up to MaxFetches pieces of at
// least minPiece blocks, each written to the cached file as it arrives
// — skipping blocks present or already coming. It returns the length
// of the window from b up to the end of its last piece (0 when nothing
// was missing).
func (cf *cfile) startWindowLocked(b, n int64) int64 {
	end := min(b+n, nblocks(cf.rec.Size))
	piece := max(minPiece, (n+int64(cf.store.o.MaxFetches)-1)/int64(cf.store.o.MaxFetches))
	var reach int64
	for at := b; at < end; {
		got := cf.startFetchLocked(at, min(piece, end-at))
		if got == 0 {
			at++ // present or coming: the run starts after it
			continue
		}
		at += got
		reach = at
	}
	if reach == 0 {
		return 0
	}
	return reach - b
}

// fetch runs one ranged GET for blocks b… and writes them to the file.
func (cf *cfile) fetch(first int64, waits []*fetchWait) {
	s := cf.store
	ctx := s.o.Ctx
	finish := func(i int, err error) {
		s.mu.Lock()
		b := first + int64(i)
		if err == nil && !cf.has(b) {
			cf.present[b/64] |= 1 << (uint(b) % 64)
			if !cf.gone {
				n := cf.blockLen(b)
				cf.rec.Bytes += n
				s.used += n
			}
			cf.dirty = true
		}
		delete(cf.inflight, b)
		s.mu.Unlock()
		waits[i].err = err
		close(waits[i].done)
	}
	failRest := func(from int, err error) {
		for i := from; i < len(waits); i++ {
			finish(i, err)
		}
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		failRest(0, ctx.Err())
		return
	}
	buf := make([]byte, 32<<10)
	for i, resumed := 0, 0; i < len(waits); resumed++ {
		var err error
		if i, err = cf.fetchFrom(first, i, waits, buf, finish); err == nil {
			break
		}
		if !interrupted(err) || resumed == maxResumes {
			var de *DiskError
			switch {
			case cacheFull(err):
				cf.goDirect(err)
			case errors.As(err, &de):
				s.o.Log.Warn("cannot store downloaded content in the cache", "path", cf.rec.Path, "err", err)
			}
			failRest(i, err)
			return
		}
		s.o.Log.Info("resuming an interrupted download", "path", cf.rec.Path, "offset", (first+int64(i))*BlockSize)
	}
	cf.syncStored()
}

// syncStored makes the blocks stored so far durable, then commits the
// bitmap that claims them (data first). Fetches of one file that end
// while a sync of it runs leave one more round to that sync instead of
// an fsync each: the parallel pieces of a read-ahead window cost one or
// two fsyncs, not one per GET. The bitmap committed is the one taken
// before the fsync, so no record claims a block whose data was not
// synced. The caller holds a reference on cf.
func (cf *cfile) syncStored() {
	s := cf.store
	s.mu.Lock()
	defer s.mu.Unlock()
	cf.syncWanted = true
	if cf.syncing {
		return
	}
	cf.syncing = true
	for cf.syncWanted && !cf.gone {
		cf.syncWanted = false
		snap := encodeBlocks(cf.present)
		s.mu.Unlock()
		err := cf.f.Sync()
		if err == nil {
			cf.persistFetched(snap)
		}
		s.mu.Lock()
		if err == nil {
			s.evictLocked()
			clear(s.fullWarned) // there was room again
		}
	}
	cf.syncing = false
}

// maxResumes bounds how often one fetch asks again for the rest of its
// range after the connection broke mid-body: a dropped connection is
// resumed from the first block not yet stored instead of failing the
// read (or the write that needed the old content) with EIO.
const maxResumes = 3

// interrupted reports whether err is a body cut short (storeBlock's
// ErrServer for a read that ended early), not a disk error or a refusal.
func interrupted(err error) bool {
	var de *DiskError
	return !errors.As(err, &de) && errors.Is(err, remote.ErrServer)
}

// fetchFrom sends one ranged GET for waits[i:] (blocks first+i…) and
// stores what arrives, calling finish for each block stored. It returns
// the index of the first block not stored and the error that stopped it.
func (cf *cfile) fetchFrom(first int64, i int, waits []*fetchWait, buf []byte, finish func(int, error)) (int, error) {
	s := cf.store
	start := first + int64(i)
	off := start * BlockSize
	length := min(int64(len(waits)-i)*BlockSize, cf.rec.Size-off)
	body, info, err := s.o.Remote.Get(s.o.Ctx, cf.rec.Path, off, length)
	s.o.Reach.NoteAnswer(err)
	if err != nil {
		return i, err
	}
	defer body.Close()
	if err := cf.checkVersion(info); err != nil {
		return i, err
	}
	for ; i < len(waits); i++ {
		b := first + int64(i)
		if err := cf.storeBlock(body, buf, b, length-(b-start)*BlockSize); err != nil {
			return i, err
		}
		finish(i, nil)
	}
	return i, nil
}

// persistFetched stores cf's bitmap snap (taken before the fsync that
// made its blocks durable), committing outside s.mu (reads of every
// file wait on it). persistMu keeps the commits of one file in the
// order of their snapshots, so a bitmap only grows; the record is
// written only while it is still there, so a file retired or evicted
// meanwhile stays without one.
func (cf *cfile) persistFetched(snap []byte) {
	s := cf.store
	cf.persistMu.Lock()
	defer cf.persistMu.Unlock()
	s.mu.Lock()
	if cf.gone || !cf.dirty {
		s.mu.Unlock()
		return
	}
	cf.rec.Blocks = snap
	rec := cf.rec
	// Blocks stored after the snapshot still need a commit.
	cf.dirty = !bytes.Equal(encodeBlocks(cf.present), snap)
	s.mu.Unlock()
	data, err := json.Marshal(rec)
	if err == nil {
		err = s.o.DB.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(metadb.BucketContent)
			if b.Get([]byte(cf.key)) == nil {
				return nil // retired or evicted meanwhile
			}
			return b.Put([]byte(cf.key), data)
		})
	}
	if err != nil {
		s.o.Log.Warn("cannot store content record", "path", rec.Path, "err", err)
		s.mu.Lock()
		cf.dirty = true // the last close tries again
		s.mu.Unlock()
	}
}

// checkVersion fails a GET whose answer is not the version cf caches.
func (cf *cfile) checkVersion(info remote.ObjectInfo) error {
	s := cf.store
	if (info.ETag != "" && cf.rec.ETag != "" && !metadb.SameETag(info.ETag, cf.rec.ETag) && !isSynthetic(cf.rec.ETag)) ||
		(info.Size >= 0 && info.Size != cf.rec.Size) {
		s.o.Log.Warn("file changed on the server while reading; reopen it to read the new version",
			"path", cf.rec.Path, "cached_etag", cf.rec.ETag, "server_etag", info.ETag)
		s.o.Invalidate(remote.Dir(cf.rec.Path))
		return s.o.Changed(cf.rec.Path)
	}
	return nil
}

// storeBlock copies block b from body to the cached file; rest is what
// is left of the GET from b on. A full disk makes room by evicting other
// content and writes again; when nothing is left to evict, the
// *DiskError says ENOSPC. A failed read of body is the server's.
func (cf *cfile) storeBlock(body io.Reader, buf []byte, b, rest int64) error {
	s := cf.store
	n := cf.blockLen(b)
	for done := int64(0); done < n; {
		m := int(min(int64(len(buf)), n-done))
		if _, err := io.ReadFull(body, buf[:m]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			s.o.Log.Warn("download interrupted", "path", cf.rec.Path, "offset", b*BlockSize+done, "err", err)
			return &remote.Error{Kind: remote.ErrServer, Op: "GET", Path: cf.rec.Path, Err: err}
		}
		for {
			since := s.freed.Load()
			_, err := cf.f.WriteAt(buf[:m], b*BlockSize+done)
			if err == nil {
				break
			}
			if noSpace(err) && s.makeRoom(rest-done, since) {
				continue
			}
			return &DiskError{Op: "content cache write", Path: cf.rec.Path, Err: err}
		}
		done += int64(m)
	}
	return nil
}

// goDirect switches cf to reading past the cache (its disk is full),
// warning once per file.
func (cf *cfile) goDirect(err error) {
	s := cf.store
	s.mu.Lock()
	cf.direct = true
	warn := !s.fullWarned[cf.key]
	s.fullWarned[cf.key] = true
	s.mu.Unlock()
	if warn {
		s.o.Log.Warn("cache disk is full: reading this file straight from the server without caching it (free space under the cache directory)",
			"path", cf.rec.Path, "cache_dir", s.o.CacheDir, "err", err)
	}
}

// errCacheFull sends a read past the cache (readDirect).
var errCacheFull = &DiskError{Op: "content cache write", Err: syscall.ENOSPC}

// readDirect reads len(p) bytes at off straight from the server into p,
// storing nothing: one ranged GET of exactly what was asked.
func (h *Handle) readDirect(ctx context.Context, p []byte, off int64) (int, error) {
	cf := h.cf
	s := cf.store
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if ok, until := s.o.Reach.MayAsk(); !ok {
		return 0, s.o.NotCached(cf.rec.Path, until)
	}
	body, info, err := s.o.Remote.Get(ctx, cf.rec.Path, off, int64(len(p)))
	s.o.Reach.NoteAnswer(err)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if err := cf.checkVersion(info); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(body, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, &remote.Error{Kind: remote.ErrServer, Op: "GET", Path: cf.rec.Path, Err: err}
	}
	return len(p), nil
}

func isSynthetic(v string) bool { return len(v) > 5 && v[:5] == "size=" }

// Handle is an open file's view of the content cache. Its methods may be
// called concurrently.
type Handle struct {
	cf     *cfile
	mu     sync.Mutex
	next   int64 // offset just after the last read
	win    int64 // next read-ahead window, in blocks
	ahead  int64 // first block after the last sequential window requested
	half   int64 // block at which the next window is requested
	closed bool
}

// OpenEntry returns a handle on the content of the file e (from a
// listing). Nothing is downloaded until read.
func (s *Store) OpenEntry(e remote.Entry) (*Handle, error) {
	cf, err := s.acquire(e)
	if err != nil {
		return nil, err
	}
	return newHandle(cf), nil
}

// Used returns the bytes the content cache holds.
func (s *Store) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// newHandle returns a handle on cf (referenced for it) whose first
// sequential window is FirstReadAhead.
func newHandle(cf *cfile) *Handle {
	return &Handle{cf: cf, win: FirstReadAhead / BlockSize}
}

// Size returns the size of the version this handle reads.
func (h *Handle) Size() int64 { return h.cf.rec.Size }

// Path returns the server path this handle reads.
func (h *Handle) Path() string { return h.cf.rec.Path }

// Version returns the version (VersionOf) this handle reads.
func (h *Handle) Version() string { return h.cf.rec.ETag }

// Complete returns the cached file when every block of this handle's
// version is present, so that the whole content can be read from it
// without the server (fusefs hands it to the kernel: FUSE passthrough);
// nil while any block is missing (a sparse file) or while reads go past
// a full cache disk. The file stays open until the handle's last
// release; the caller must not close it or write to it.
func (h *Handle) Complete() *os.File {
	h.mu.Lock()
	defer h.mu.Unlock()
	cf := h.cf
	s := cf.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.closed || cf.direct || cf.gone || cf.f == nil {
		return nil
	}
	if cf.rec.Size > 0 && cf.missingLocked(0, nblocks(cf.rec.Size)-1) {
		return nil
	}
	return cf.f
}

// ReadAt reads len(p) bytes at off (fewer at end of file, with io.EOF).
func (h *Handle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n, _, err := h.read(ctx, p, off, false)
	return n, err
}

// ReadSpliced is ReadAt for a caller that can copy from the cached
// file itself (fusefs splices it into the kernel's reply, one copy
// fewer): once every block of the range is cached it returns that file
// and the byte count, p untouched; a read past a full cache disk fills
// p and returns a nil file. The file stays open until the handle is
// closed; the caller must not close it.
func (h *Handle) ReadSpliced(ctx context.Context, p []byte, off int64) (*os.File, int, error) {
	n, spliced, err := h.read(ctx, p, off, true)
	if spliced {
		return h.cf.f, n, err
	}
	return nil, n, err
}

// read is ReadAt; with splice, data that is cached is not copied into
// p (spliced true: it is in h.cf.f at off).
func (h *Handle) read(ctx context.Context, p []byte, off int64, splice bool) (n int, spliced bool, err error) {
	size := h.cf.rec.Size
	if off >= size {
		return 0, false, io.EOF
	}
	end := min(off+int64(len(p)), size)
	first, last := off/BlockSize, (end-1)/BlockSize
	cached := func() (int, bool, error) {
		if !splice {
			n, err := h.cachedAt(p, off, end)
			return n, false, err
		}
		if end < off+int64(len(p)) {
			return int(end - off), true, io.EOF
		}
		return int(end - off), true, nil
	}
	direct := func() (int, bool, error) {
		n, err := h.directAt(ctx, p, off, end)
		return n, false, err
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0, false, os.ErrClosed
	}
	// Sequential: the read starts near where the previous one ended (the
	// kernel may deliver read-ahead requests slightly out of order).
	seq := off >= h.next-seqSlack && off <= h.next+seqSlack
	if !seq {
		h.win, h.ahead, h.half = FirstReadAhead/BlockSize, 0, 0
	}
	h.next = end
	s := h.cf.store
	s.mu.Lock()
	if h.cf.direct {
		// The cache disk is full: what is not cached comes straight
		// from the server.
		missing := h.cf.missingLocked(first, last)
		s.mu.Unlock()
		h.mu.Unlock()
		if missing {
			return direct()
		}
		return cached()
	}
	err = h.fetchLocked(first, last, seq)
	s.mu.Unlock()
	h.mu.Unlock()
	if err != nil {
		return 0, false, err
	}
	for b := first; b <= last; b++ {
		if err := h.cf.wait(ctx, b); err != nil {
			if cacheFull(err) {
				return direct()
			}
			return 0, false, err
		}
	}
	return cached()
}

// missingLocked reports whether a block of first…last is not cached.
func (cf *cfile) missingLocked(first, last int64) bool {
	for b := first; b <= last; b++ {
		if !cf.has(b) {
			return true
		}
	}
	return false
}

// fetchLocked starts the GETs a read of blocks first…last needs, with
// h.mu and the store's lock held: the missing blocks (a window of them
// for a sequential reader), and the next window once a sequential
// reader is past the middle of the last one. While the server is known
// to be away, a read that needs a GET fails at once (but for the one
// probe after the retry interval) instead of waiting for the server's
// retries, and nothing is read ahead.
func (h *Handle) fetchLocked(first, last int64, seq bool) error {
	s := h.cf.store
	for b := first; b <= last; b++ {
		if h.cf.has(b) || h.cf.inflight[b] != nil {
			continue
		}
		if ok, until := s.o.Reach.MayAsk(); !ok {
			return s.o.NotCached(h.cf.rec.Path, until)
		}
		break
	}
	away := s.o.Reach.Offline()
	for b := first; b <= last; b++ {
		if h.cf.has(b) || h.cf.inflight[b] != nil {
			continue
		}
		if !seq {
			h.cf.startFetchLocked(b, 1)
			continue
		}
		if got := h.cf.startWindowLocked(b, h.win); got > 0 {
			h.advance(b, got)
		}
	}
	// Fetch ahead once the reader is past the middle of the last window.
	if seq && !away && h.ahead > 0 && last >= h.half && h.ahead < nblocks(h.cf.rec.Size) {
		if got := h.cf.startWindowLocked(h.ahead, h.win); got > 0 {
			h.advance(h.ahead, got)
		} else {
			// Already there: look again after this block.
			h.half = h.ahead + 1
			h.ahead++
		}
	}
	return nil
}

// cachedAt reads [off, end) from the cached file into p.
func (h *Handle) cachedAt(p []byte, off, end int64) (int, error) {
	n, err := h.cf.f.ReadAt(p[:end-off], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, &DiskError{Op: "content cache read", Path: h.cf.rec.Path, Err: err}
	}
	if err == nil && end < off+int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// directAt reads [off, end) from the server into p (readDirect).
func (h *Handle) directAt(ctx context.Context, p []byte, off, end int64) (int, error) {
	n, err := h.readDirect(ctx, p[:end-off], off)
	if err == nil && end < off+int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// advance records a sequential window [b, b+got) and grows the next one.
// The next window is asked for as soon as the reader is inside this one
// (half = b): with the window's pieces in flight in parallel, waiting
// for its middle left the connection idle for a round trip per window.
func (h *Handle) advance(b, got int64) {
	h.ahead = b + got
	h.half = b
	h.win = min(h.win*2, MaxReadAhead/BlockSize)
}

// wait blocks until block b is present, starting a one-block fetch if no
// one is getting it.
func (cf *cfile) wait(ctx context.Context, b int64) error {
	s := cf.store
	for tries := 0; ; tries++ {
		s.mu.Lock()
		if cf.has(b) {
			s.mu.Unlock()
			return nil
		}
		w := cf.inflight[b]
		if w == nil {
			if tries > 0 {
				s.mu.Unlock()
				return &remote.Error{Kind: remote.ErrServer, Op: "GET", Path: cf.rec.Path, Detail: "block missing after download"}
			}
			if cf.direct { // the cache disk is full
				s.mu.Unlock()
				return errCacheFull
			}
			if ok, until := s.o.Reach.MayAsk(); !ok {
				s.mu.Unlock()
				return s.o.NotCached(cf.rec.Path, until)
			}
			cf.startFetchLocked(b, 1)
			w = cf.inflight[b]
			if w == nil { // cf.direct: the cache disk is full
				s.mu.Unlock()
				return errCacheFull
			}
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.done:
			if w.err != nil {
				return w.err
			}
		}
	}
}

// Close releases the handle. Cached data stays for later opens.
func (h *Handle) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.mu.Unlock()
	h.cf.store.release(h.cf)
	return nil
}

// syncDir: diskio.SyncDir.
var syncDir = diskio.SyncDir

// Cached reports whether the n bytes at off are all in the content
// cache, so that reading them needs no request (a hit, for metrics).
func (h *Handle) Cached(off int64, n int) bool {
	size := h.cf.rec.Size
	if off >= size || n <= 0 {
		return true
	}
	end := min(off+int64(n), size)
	s := h.cf.store
	s.mu.Lock()
	defer s.mu.Unlock()
	return !h.cf.missingLocked(off/BlockSize, (end-1)/BlockSize)
}
