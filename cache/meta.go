package cache

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/blocks"
	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// staleWait is how long a lookup waits for a listing being refreshed
// before it is answered from the stale one.
const staleWait = 3 * time.Second

// dirState is a folder's listing held in memory.
type dirState struct {
	rec   metadb.DirRecord
	index map[string]int // fold(name) → index in rec.Kids
	// current is true when this process fetched (or confirmed) the
	// listing; false for one loaded from an earlier run's meta.db.
	current bool
	// heldUntil: a refresh failed (see servesStale) and the listing is
	// served as it is until then, without asking the server again.
	heldUntil time.Time
}

func newDirState(rec metadb.DirRecord, current bool) *dirState {
	sort.Slice(rec.Kids, func(i, j int) bool { return rec.Kids[i].Name() < rec.Kids[j].Name() })
	ds := &dirState{rec: rec, current: current, index: make(map[string]int, len(rec.Kids))}
	for i, k := range rec.Kids {
		ds.index[strings.ToLower(k.Name())] = i
	}
	return ds
}

func notFound(op, p string) error {
	return &Error{Kind: ErrNotFound, Op: op, Path: p}
}

// Stat returns the entry of p, from its parent's listing (the root's own
// entry comes from the root listing).
func (c *Cache) Stat(ctx context.Context, p string) (remote.Entry, error) {
	p = remote.Clean(p)
	if p == "/" {
		ds, err := c.listing(ctx, "/")
		if err != nil {
			return remote.Entry{}, err
		}
		return ds.rec.Self, nil
	}
	return c.Lookup(ctx, remote.Dir(p), remote.Base(p))
}

// Lookup finds name in dir, case-insensitively. The entry's Path carries
// the server's spelling.
func (c *Cache) Lookup(ctx context.Context, dir, name string) (remote.Entry, error) {
	if e, ok := c.pendingEntry(remote.Join(dir, name)); ok {
		return e, nil // written here, not (yet) on the server: staging answers
	}
	ds, err := c.listing(ctx, dir)
	if err != nil {
		return remote.Entry{}, err
	}
	if ds.rec.Gone {
		return remote.Entry{}, notFound("lookup", remote.Join(dir, name))
	}
	i, ok := ds.index[strings.ToLower(name)]
	if !ok {
		if e, ok := c.recentEntry(remote.Join(dir, name)); ok {
			return e, nil // uploaded by us; the listing predates it
		}
		return remote.Entry{}, notFound("lookup", remote.Join(dir, name))
	}
	return ds.rec.Kids[i], nil
}

// ReadDir returns the children of dir sorted by name (byte order of the
// server names).
func (c *Cache) ReadDir(ctx context.Context, dir string) ([]remote.Entry, error) {
	ds, err := c.listing(ctx, dir)
	if err != nil {
		return nil, err
	}
	if ds.rec.Gone {
		return nil, notFound("readdir", dir)
	}
	return c.withPending(dir, ds.rec.Kids), nil
}

// Cached returns the entry of p if its parent's listing is known (fresh or
// not), without any request. Used for attributes that must not block.
func (c *Cache) Cached(p string) (remote.Entry, bool) {
	p = remote.Clean(p)
	if e, ok := c.pendingEntry(p); ok {
		return e, true
	}
	dir := remote.Dir(p)
	if p == "/" {
		dir = "/"
	}
	ds := c.stored(dir)
	if ds == nil || ds.rec.Gone {
		return remote.Entry{}, false
	}
	if p == "/" {
		return ds.rec.Self, true
	}
	i, ok := ds.index[strings.ToLower(remote.Base(p))]
	if !ok {
		return remote.Entry{}, false
	}
	return ds.rec.Kids[i], true
}

// Invalidate forgets the freshness of dir's listing, so the next lookup
// asks the server (the stale listing still serves if it is away).
func (c *Cache) Invalidate(dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ds, ok := c.dirs[fold(dir)]; ok {
		ds.rec.Fetched = time.Time{}
	}
}

// stored returns the listing of dir held in memory or in meta.db, or nil.
func (c *Cache) stored(dir string) *dirState {
	key := fold(dir)
	c.mu.Lock()
	ds := c.dirs[key]
	c.mu.Unlock()
	if ds != nil {
		return ds
	}
	var rec metadb.DirRecord
	found, err := metadb.GetJSON(c.db, metadb.BucketDirs, key, &rec)
	if err != nil {
		c.log.Warn("cannot read cached listing; it will be fetched again", "path", dir, "err", err)
		return nil
	}
	if !found {
		return nil
	}
	ds = newDirState(rec, false)
	c.mu.Lock()
	if cur := c.dirs[key]; cur != nil {
		ds = cur
	} else {
		c.dirs[key] = ds
	}
	c.mu.Unlock()
	return ds
}

// listing returns dir's listing, fetching it when it is missing or older
// than DirCacheTime. A listing from an earlier run is returned at once
// and revalidated in the background; with the server away, a stale
// listing is returned.
func (c *Cache) listing(ctx context.Context, dir string) (*dirState, error) {
	dir = remote.Clean(dir)
	ds := c.stored(dir)
	if ds != nil {
		c.mu.Lock()
		current, fetched := ds.current, ds.rec.Fetched
		held := c.now().Before(ds.heldUntil)
		c.mu.Unlock()
		away := c.reach.Holding()
		switch {
		case !current:
			c.revalidate(dir)
			return ds, nil
		case c.now().Sub(fetched) < c.ttl, away, held:
			return ds, nil
		}
	}
	ch := c.lists.DoChan(fold(dir), func() (any, error) { return c.fetch(dir) })
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
		return ds, nil
	case r := <-ch:
		if r.Err != nil {
			if ds != nil && servesStale(r.Err) {
				c.holdStale(dir, r.Err)
				return ds, nil
			}
			return nil, r.Err
		}
		return r.Val.(*dirState), nil
	}
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
func (c *Cache) holdStale(dir string, err error) {
	if errors.Is(err, remote.ErrUnavailable) {
		return // reach holds every listing already (Holding)
	}
	c.mu.Lock()
	if ds := c.dirs[fold(dir)]; ds != nil {
		ds.heldUntil = c.now().Add(c.reach.Interval())
	}
	c.mu.Unlock()
	c.log.Warn("refreshing a folder listing failed; showing the stored one", "path", dir, "err", err)
}

// revalidate fetches dir in the background, once at a time.
func (c *Cache) revalidate(dir string) {
	c.mu.Lock()
	if ds := c.dirs[fold(dir)]; ds != nil {
		ds.current = true // one background attempt per listing and run
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ch := c.lists.DoChan(fold(dir), func() (any, error) { return c.fetch(dir) })
		select {
		case <-c.bg.Done():
		case r := <-ch:
			// Anything but "not found" would otherwise go unnoticed
			// behind the stale listing.
			if r.Err != nil && !errors.Is(r.Err, remote.ErrNotFound) {
				c.holdStale(dir, r.Err)
			}
		}
	}()
}

// fetch asks the server for dir's listing and stores it.
func (c *Cache) fetch(dir string) (*dirState, error) {
	ctx := c.bg
	self, kids, err := c.remote.List(ctx, dir)
	now := c.now()
	key := fold(dir)
	switch {
	case err == nil:
		c.reach.Back()
	case errors.Is(err, remote.ErrNotFound):
		c.reach.Back()
		rec := metadb.DirRecord{Path: dir, Fetched: now, Gone: true}
		ds := newDirState(rec, true)
		c.replace(key, ds)
		return nil, err
	case errors.Is(err, remote.ErrUnavailable):
		c.reach.Away(err)
		return nil, err
	default:
		return nil, err
	}
	if !self.IsDir {
		return nil, &Error{Kind: ErrNotDir, Op: "readdir", Path: dir}
	}
	clean := kids[:0:0]
	for _, k := range kids {
		if k.Name() == "" || fold(k.Path) == key {
			continue
		}
		clean = append(clean, k)
	}
	c.applyMtimes(clean)
	ds := newDirState(metadb.DirRecord{Path: self.Path, Fetched: now, Self: self, Kids: clean}, true)
	c.replace(key, ds)
	return ds, nil
}

// replace installs a new listing, persists it, and drops cached content
// of files whose ETag changed or that disappeared.
func (c *Cache) replace(key string, ds *dirState) {
	c.mu.Lock()
	old := c.dirs[key]
	c.dirs[key] = ds
	rec := ds.rec // Invalidate may change ds.rec.Fetched meanwhile
	c.mu.Unlock()
	if old == nil {
		var rec metadb.DirRecord
		if found, _ := metadb.GetJSON(c.db, metadb.BucketDirs, key, &rec); found {
			old = newDirState(rec, false)
		}
	}
	if err := metadb.PutJSON(c.db, metadb.BucketDirs, key, rec); err != nil {
		c.log.Warn("cannot store listing in the cache database", "path", ds.rec.Path, "err", err)
	}
	if old == nil {
		return
	}
	var replaced []string // versions replaced under the same name
	for _, k := range old.rec.Kids {
		if k.IsDir {
			if i, ok := ds.index[strings.ToLower(k.Name())]; !ok || !ds.rec.Kids[i].IsDir {
				c.forgetTree(k.Path)
			}
			continue
		}
		i, ok := ds.index[strings.ToLower(k.Name())]
		if !ok || ds.rec.Kids[i].IsDir {
			c.content.Drop(k.Path, "")
			continue
		}
		n := ds.rec.Kids[i]
		if !sameETag(n.ETag, k.ETag) || n.Size != k.Size {
			c.content.Drop(k.Path, blocks.VersionOf(n))
		}
		if k.ETag != "" && !sameETag(n.ETag, k.ETag) {
			replaced = append(replaced, k.ETag)
		}
	}
	c.forgetMtimes(replaced)
}

// forgetTree drops the stored listings of a folder that is gone and of
// everything under it (their files' cached content goes with the next
// eviction, or now when they are listed again).
func (c *Cache) forgetTree(dir string) {
	key := fold(dir)
	c.mu.Lock()
	for k := range c.dirs {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(c.dirs, k)
		}
	}
	c.mu.Unlock()
	err := c.db.Update(func(tx *bolt.Tx) error {
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
		c.log.Warn("cannot forget the listings of a removed folder", "path", dir, "err", err)
	}
	c.content.DropTree(dir)
}
