package listing

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/singleflight"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// Reach is what listings ask of, and tell, the server's reachability
// (the cache's reach.State).
type Reach interface {
	Back()
	Away(err error)
	Holding() bool
	Interval() time.Duration
}

// Options are what the listings need from the cache that owns them.
type Options struct {
	DB     *bolt.DB
	Log    *slog.Logger
	Now    func() time.Time
	Remote remote.Remote
	Reach  Reach
	// TTL is --dir-cache-time: how long a listing serves without asking.
	TTL time.Duration
	// Ctx lives until the cache closes; fetches run on it, background
	// revalidations are counted in WG.
	Ctx context.Context
	WG  *sync.WaitGroup
	// DropContent drops the cached content of path unless it is the
	// version of entry keep (a zero keep: any version); DropContentTree
	// of everything under dir.
	// Called when a listing shows a file changed or gone.
	DropContent     func(path string, keep remote.Entry)
	DropContentTree func(dir string)
	// ApplyMtimes sets the mtime of versions uploaded from here on
	// fetched entries; ForgetMtimes drops the records of versions a
	// listing shows replaced.
	ApplyMtimes  func(kids []remote.Entry)
	ForgetMtimes func(etags []string)
	// NotDir makes the cache's error for a listing of a file.
	NotDir func(dir string) error
	// NoChangeLog keeps the listings from using the server's change log
	// (changes.go) even when the remote has one.
	NoChangeLog bool
	// Ahead is how many subfolders are listed ahead at once (ahead.go);
	// 0 lists none ahead. AheadBudget bounds the listings fetched ahead
	// and not yet used (0: DefaultAheadBudget).
	Ahead       int
	AheadBudget int
}

// Store holds the folder listings: in memory (hot folders) and in
// meta.db (all of them). Its methods are safe for concurrent use. Lock
// order: editMu → mu; mu is a leaf (no call out while it is held);
// editMu is held across a listing's bbolt commit and the callbacks of
// Options (content drops, mtimes), never by lookups.
type Store struct {
	o     Options
	lists singleflight.Group

	// editMu serialises the changes of stored listings: an entry set or
	// removed after a local change (SetEntry, RemoveEntry, SetEmpty,
	// ForgetTree) and the installation of a listing fetched from the
	// server (Fetch). Each of them reads a listing, changes it and stores
	// it; two at once would lose one. It is taken before mu and held
	// across the bbolt commit; lookups never take it.
	editMu sync.Mutex
	// edits counts the local changes of each folder's listing (key:
	// metadb.Key(path); under editMu). A listing fetched while the count
	// moved may predate the change (its PROPFIND answered before our
	// upload or rename), so it is not installed over it.
	edits map[string]uint64
	// treeEdits counts the removals of whole subtrees
	// (forgetTreeLocked), which change the listings of folders not named
	// in edits.
	treeEdits uint64

	mu   sync.Mutex
	dirs map[string]*Dir // key: metadb.Key(path)

	// log is the server's change log, when it has one (changes.go).
	log *changeLog
	// commit batches the listings' writes to meta.db (commit.go).
	commit *committer
	// ahead lists subfolders before a walk asks for them (ahead.go).
	ahead ahead
}

// New returns an empty Store (listings load from meta.db on demand).
func New(o Options) *Store {
	s := &Store{o: o, dirs: map[string]*Dir{}, edits: map[string]uint64{}, log: newChangeLog(o), commit: newCommitter()}
	s.runCommitter()
	return s
}

// Gone reports a folder the server said does not exist.
func (d *Dir) Gone() bool { return d.rec.Gone }

// Self is the folder's own entry.
func (d *Dir) Self() remote.Entry { return d.rec.Self }

// Kids are the folder's entries, sorted by name; not to be changed.
func (d *Dir) Kids() []remote.Entry { return d.rec.Kids }

// Find returns the entry named name, case-insensitively.
func (d *Dir) Find(name string) (remote.Entry, bool) {
	i, ok := d.index[strings.ToLower(name)]
	if !ok {
		return remote.Entry{}, false
	}
	return d.rec.Kids[i], true
}

// SetEmpty records dir, just made here, with an empty listing: files
// created in it cost no PROPFIND.
func (s *Store) SetEmpty(self remote.Entry, fetched time.Time) {
	s.editMu.Lock()
	defer s.editMu.Unlock()
	s.editLocked(metadb.Key(self.Path), newDir(metadb.DirRecord{Path: self.Path, Fetched: fetched, Self: self}, true))
}

// staleWait is how long a lookup waits for a listing being refreshed
// before it is answered from the stale one. Long enough for a large
// folder on a slow or loaded server (a listing of 20,000 entries took over
// 3 s in make bench, and the stale answer then showed a file another
// client had deleted); short enough that a server that hangs does not
// hang ls for good. Past it the stale listing is served with a warning.
const staleWait = 30 * time.Second

// Dir is a folder's listing held in memory.
type Dir struct {
	rec   metadb.DirRecord
	index map[string]int // metadb.Key(name) → index in rec.Kids
	// current is true when this process fetched (or confirmed) the
	// listing; false for one loaded from an earlier run's meta.db.
	current bool
	// heldUntil: a refresh failed (see servesStale) and the listing is
	// served as it is until then, without asking the server again.
	heldUntil time.Time
	// kidsQueued: a lookup used this listing and its subfolders were
	// queued to be listed ahead (ahead.go).
	kidsQueued bool
	// fromDisk: loaded from an earlier run's meta.db, never fetched by
	// this process (a fetch makes a new Dir); set at creation only.
	fromDisk bool
}

func newDir(rec metadb.DirRecord, current bool) *Dir {
	sort.Slice(rec.Kids, func(i, j int) bool { return rec.Kids[i].Name() < rec.Kids[j].Name() })
	ds := &Dir{rec: rec, current: current, fromDisk: !current, index: make(map[string]int, len(rec.Kids))}
	for i, k := range rec.Kids {
		ds.index[strings.ToLower(k.Name())] = i
	}
	return ds
}

// Invalidate forgets the freshness of dir's listing, so the next lookup
// asks the server (the stale listing still serves if it is away).
func (s *Store) Invalidate(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ds, ok := s.dirs[metadb.Key(dir)]; ok {
		ds.rec.Fetched = time.Time{}
	}
}

// Stored returns the listing of dir held in memory or in meta.db, or nil.
func (s *Store) Stored(dir string) *Dir {
	key := metadb.Key(dir)
	s.mu.Lock()
	ds := s.dirs[key]
	s.mu.Unlock()
	if ds != nil {
		return ds
	}
	var rec metadb.DirRecord
	found, err := metadb.GetJSON(s.o.DB, metadb.BucketDirs, key, &rec)
	if err != nil {
		s.o.Log.Warn("cannot read cached listing; it will be fetched again", "path", dir, "err", err)
		return nil
	}
	if !found {
		return nil
	}
	ds = newDir(rec, false)
	s.mu.Lock()
	if cur := s.dirs[key]; cur != nil {
		ds = cur
	} else {
		s.dirs[key] = ds
	}
	s.mu.Unlock()
	return ds
}

// Get returns dir's listing, fetching it when it is missing or older
// than DirCacheTime. A listing from an earlier run is returned at once
// and revalidated in the background; with the server away, a stale
// listing is returned.
func (s *Store) Get(ctx context.Context, dir string) (*Dir, error) {
	dir = remote.Clean(dir)
	ds := s.Stored(dir)
	if s.logDue(s.fetchedOf(ds)) {
		// One change query for the whole library says whether this
		// listing (and every other) is still current (changes.go).
		if err := s.SyncChanges(ctx); err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ds = s.Stored(dir)
	}
	if ds != nil && s.serves(dir, ds) {
		s.used(ds)
		return ds, nil
	}
	ch := s.lists.DoChan(metadb.Key(dir), func() (any, error) {
		// A fetch that ended between the look above and this one (the
		// folder listed ahead, ahead.go) needs no second request.
		if cur := s.Stored(dir); cur != nil && cur != ds && s.fresh(cur) {
			return cur, nil
		}
		return s.Fetch(dir)
	})
	var slow <-chan time.Time
	if ds != nil {
		// A stale listing is there: wait a little for the fresh one, then
		// serve the stale one and let the fetch finish in the background
		// (a server that hangs or retries must not hang ls).
		t := time.NewTimer(staleWait)
		defer t.Stop()
		slow = t.C
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-slow:
		s.o.Log.Warn("refreshing a folder listing takes longer than expected; showing the stored one until it is done",
			"path", dir, "waited", staleWait.String())
		return ds, nil
	case r := <-ch:
		if r.Err != nil {
			if ds != nil && servesStale(r.Err) {
				s.holdStale(dir, r.Err)
				return ds, nil
			}
			return nil, r.Err
		}
		s.used(r.Val.(*Dir))
		return r.Val.(*Dir), nil
	}
}

// Settle returns the listing of dir a negative answer may rest on: ds
// itself unless it is one an earlier run stored and this one has not
// fetched yet; then the fetch (the background revalidation's, when one
// runs: the same request) is waited for. The earlier run may have died
// after a file reached the server and before the batched listing naming
// it was written. With the server away, or the fetch failing, ds stays.
func (s *Store) Settle(ctx context.Context, dir string, ds *Dir) *Dir {
	if !ds.fromDisk || s.o.Reach.Holding() {
		return ds
	}
	if cur := s.Stored(dir); cur != nil && !cur.fromDisk {
		return cur // fetched meanwhile
	}
	ch := s.lists.DoChan(metadb.Key(dir), func() (any, error) { return s.Fetch(dir) })
	select {
	case <-ctx.Done():
		return ds
	case r := <-ch:
		if r.Err != nil {
			return ds
		}
		return r.Val.(*Dir)
	}
}

// fetchedOf returns when ds was asked for (zero for nil).
func (s *Store) fetchedOf(ds *Dir) time.Time {
	if ds == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ds.rec.Fetched
}

// serves reports whether ds answers a lookup as it is: fresh (the
// common case: asks nothing more; with the change log, confirmed by its
// last query), held after a failed refresh, or the server is away. A
// listing stored by an earlier run serves at once and is revalidated in
// the background — unless the change log says it changed, or covers it
// and it is due: then it is fetched now.
func (s *Store) serves(dir string, ds *Dir) bool {
	now := s.o.Now()
	s.mu.Lock()
	current, fetched, heldUntil := ds.current, ds.rec.Fetched, ds.heldUntil
	s.mu.Unlock()
	if on, base, _ := s.log.state(); on {
		if covered(fetched, base) {
			if now.Sub(s.freshAt(fetched)) < s.o.TTL {
				return true
			}
			current = true
		} else if fetched.IsZero() {
			current = true // marked changed by the log
		}
	}
	switch {
	case !current:
		s.revalidate(dir)
		return true
	case now.Sub(fetched) < s.o.TTL, now.Before(heldUntil), s.o.Reach.Holding():
		return true
	}
	return false
}

// fresh reports whether ds is current and within its TTL.
func (s *Store) fresh(ds *Dir) bool {
	s.mu.Lock()
	current, fetched := ds.current, ds.rec.Fetched
	s.mu.Unlock()
	return current && !fetched.IsZero() && s.o.Now().Sub(s.freshAt(fetched)) < s.o.TTL
}

// servesStale reports whether a failed refresh should be answered with
// the stored listing: the server is away, throttling, answered with an
// error or a document that makes no sense (broken XML), or our
// credentials are refused (expired, the login dead until `odfb login`) —
// none of which says the folder changed, and with the stored listing
// files can still be written and queued until the login is renewed. A
// refused permission on the folder (403 with valid credentials) or "not
// found" is the answer itself.
func servesStale(err error) bool {
	return errors.Is(err, remote.ErrUnavailable) || errors.Is(err, remote.ErrServer) ||
		errors.Is(err, remote.ErrThrottled) || errors.Is(err, remote.ErrAuth)
}

// holdStale keeps serving dir's stored listing after a refresh failed
// with err, for the retry interval, so that every lookup does not ask a
// server that has just refused (and log it again); the failure is logged
// once per interval and folder. Unreachable is reach's business.
func (s *Store) holdStale(dir string, err error) {
	if errors.Is(err, remote.ErrUnavailable) {
		return // reach holds every listing already (Holding)
	}
	s.mu.Lock()
	if ds := s.dirs[metadb.Key(dir)]; ds != nil {
		ds.heldUntil = s.o.Now().Add(s.o.Reach.Interval())
	}
	s.mu.Unlock()
	s.o.Log.Warn("refreshing a folder listing failed; showing the stored one", "path", dir, "err", err)
}

// revalidate fetches dir in the background, once at a time.
func (s *Store) revalidate(dir string) {
	s.mu.Lock()
	if ds := s.dirs[metadb.Key(dir)]; ds != nil {
		ds.current = true // one background attempt per listing and run
	}
	s.mu.Unlock()
	s.o.WG.Add(1)
	go func() {
		defer s.o.WG.Done()
		ch := s.lists.DoChan(metadb.Key(dir), func() (any, error) { return s.Fetch(dir) })
		select {
		case <-s.o.Ctx.Done():
		case r := <-ch:
			// Anything but "not found" would otherwise go unnoticed
			// behind the stale listing.
			if r.Err != nil && !errors.Is(r.Err, remote.ErrNotFound) {
				s.holdStale(dir, r.Err)
			}
		}
	}()
}

// fetchTries bounds how often fetch asks again when local changes of the
// folder keep racing its PROPFIND.
const fetchTries = 3

// Fetch asks the server for dir's listing now and stores it (what Get
// does when the listing is due). A listing whose request raced a local
// change of the folder (an upload ending, a rename, a removal: SetEntry,
// RemoveEntry, SetEmpty, ForgetTree) may not show that change, so it is
// asked for again; after fetchTries races the stored listing, which has
// the change, is kept as it is (and stays due for revalidation).
func (s *Store) Fetch(dir string) (*Dir, error) {
	key := metadb.Key(dir)
	for try := 1; ; try++ {
		s.editMu.Lock()
		edits := s.edits[key] + s.treeEdits
		s.editMu.Unlock()
		ds, raced, err := s.fetchOnce(dir, key, edits)
		if !raced {
			return ds, err
		}
		if try == fetchTries {
			s.o.Log.Debug("folder keeps changing here while listed; keeping the local listing", "path", dir)
			if ds := s.Stored(dir); ds != nil {
				return ds, nil
			}
			if err == nil {
				err = &remote.Error{Kind: remote.ErrUnavailable, Op: "readdir", Path: dir,
					Detail: "the folder kept changing here while it was listed"}
			}
			return nil, err
		}
	}
}

// fetchOnce lists dir once and installs the answer unless the folder's
// local edit count moved from edits meanwhile (raced).
func (s *Store) fetchOnce(dir, key string, edits uint64) (*Dir, bool, error) {
	ctx := s.o.Ctx
	// A listing's time is when it was asked for: what changed after that
	// may be missing from it, and the change log covers it only when it
	// was asked after the log's token was taken (changes.go).
	now := s.o.Now()
	self, kids, err := s.o.Remote.List(ctx, dir)
	s.editMu.Lock()
	defer s.editMu.Unlock()
	if s.edits[key]+s.treeEdits != edits {
		return nil, true, err
	}
	switch {
	case err == nil:
		s.o.Reach.Back()
	case errors.Is(err, remote.ErrNotFound):
		s.o.Reach.Back()
		rec := metadb.DirRecord{Path: dir, Fetched: now, Gone: true}
		ds := newDir(rec, true)
		s.replace(key, ds)
		return nil, false, err
	case errors.Is(err, remote.ErrUnavailable):
		s.o.Reach.Away(err)
		return nil, false, err
	default:
		return nil, false, err
	}
	if !self.IsDir {
		return nil, false, s.o.NotDir(dir)
	}
	clean := kids[:0:0]
	for _, k := range kids {
		if k.Name() == "" || metadb.Key(k.Path) == key {
			continue
		}
		clean = append(clean, k)
	}
	s.o.ApplyMtimes(clean)
	ds := newDir(metadb.DirRecord{Path: self.Path, Fetched: now, Self: self, Kids: clean}, true)
	s.replace(key, ds)
	return ds, false, nil
}

// editLocked installs a listing changed here (not fetched) and counts
// the change, so that a fetch under way does not overwrite it. Called
// with s.editMu held.
func (s *Store) editLocked(key string, ds *Dir) {
	s.edits[key]++
	s.replace(key, ds)
}

// replace installs a new listing, queues it for meta.db, and drops cached content
// of files whose ETag changed or that disappeared.
func (s *Store) replace(key string, ds *Dir) {
	s.mu.Lock()
	old := s.dirs[key]
	s.dirs[key] = ds
	rec := ds.rec // Invalidate may change ds.rec.Fetched meanwhile
	s.mu.Unlock()
	if old == nil {
		var rec metadb.DirRecord
		if found, _ := metadb.GetJSON(s.o.DB, metadb.BucketDirs, key, &rec); found {
			old = newDir(rec, false)
		}
	}
	s.queue(key, rec)
	if old == nil {
		return
	}
	var replaced []string // versions replaced under the same name
	for _, k := range old.rec.Kids {
		if k.IsDir {
			if i, ok := ds.index[strings.ToLower(k.Name())]; !ok || !ds.rec.Kids[i].IsDir {
				s.forgetTreeLocked(k.Path)
			}
			continue
		}
		i, ok := ds.index[strings.ToLower(k.Name())]
		if !ok || ds.rec.Kids[i].IsDir {
			s.o.DropContent(k.Path, remote.Entry{})
			continue
		}
		n := ds.rec.Kids[i]
		if !metadb.SameETag(n.ETag, k.ETag) || n.Size != k.Size {
			s.o.DropContent(k.Path, n)
		}
		if k.ETag != "" && !metadb.SameETag(n.ETag, k.ETag) {
			replaced = append(replaced, k.ETag)
		}
	}
	s.o.ForgetMtimes(replaced)
}

// ForgetTree drops the stored listings of a folder that is gone and of
// everything under it (their files' cached content goes with the next
// eviction, or now when they are listed again).
func (s *Store) ForgetTree(dir string) {
	s.editMu.Lock()
	defer s.editMu.Unlock()
	s.forgetTreeLocked(dir)
}

// forgetTreeLocked is ForgetTree with s.editMu held. It counts as a local
// edit of every folder (treeEdits): a listing of one of them fetched
// meanwhile must not bring it back.
func (s *Store) forgetTreeLocked(dir string) {
	s.treeEdits++
	key := metadb.Key(dir)
	s.mu.Lock()
	for k := range s.dirs {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(s.dirs, k)
		}
	}
	s.mu.Unlock()
	s.unqueueTree(key)
	err := s.o.DB.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(metadb.BucketDirs)
		if err := b.Delete([]byte(key)); err != nil {
			return err
		}
		cur := b.Cursor()
		prefix := []byte(key + "/")
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Seek(prefix) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.o.Log.Warn("cannot forget the listings of a removed folder", "path", dir, "err", err)
	}
	s.o.DropContentTree(dir)
}

// SetEntry puts e into its parent's listing (when that listing is
// known), as the server would now list it.
func (s *Store) SetEntry(e remote.Entry) {
	s.editMu.Lock()
	defer s.editMu.Unlock()
	dir := remote.Dir(e.Path)
	ds := s.Stored(dir)
	if ds == nil || ds.rec.Gone {
		return
	}
	s.mu.Lock()
	rec := ds.rec
	rec.Kids = append([]remote.Entry(nil), ds.rec.Kids...)
	current := ds.current
	s.mu.Unlock()
	if i, ok := ds.index[strings.ToLower(e.Name())]; ok {
		rec.Kids[i] = e
	} else {
		rec.Kids = append(rec.Kids, e)
	}
	s.editLocked(metadb.Key(dir), newDir(rec, current))
}

// RemoveEntry takes p out of its parent's listing.
func (s *Store) RemoveEntry(p string) {
	s.editMu.Lock()
	defer s.editMu.Unlock()
	dir := remote.Dir(p)
	ds := s.Stored(dir)
	if ds == nil || ds.rec.Gone {
		return
	}
	i, ok := ds.index[strings.ToLower(remote.Base(p))]
	if !ok {
		return
	}
	s.mu.Lock()
	rec := ds.rec
	current := ds.current
	s.mu.Unlock()
	rec.Kids = append(append([]remote.Entry(nil), ds.rec.Kids[:i]...), ds.rec.Kids[i+1:]...)
	s.editLocked(metadb.Key(dir), newDir(rec, current))
}
