package cache

// The facade's reads of listings (cache/internal/listing holds them):
// this is where pending files are overlaid onto what the server listed
// (pendingEntry, recentEntry, withPending).

import (
	"context"

	"github.com/odfb/odfb/remote"
)

func notFound(op, p string) error {
	return &Error{Kind: ErrNotFound, Op: op, Path: p}
}

// Stat returns the entry of p, from its parent's listing (the root's own
// entry comes from the root listing).
func (c *Cache) Stat(ctx context.Context, p string) (remote.Entry, error) {
	p = remote.Clean(p)
	if p == "/" {
		ds, err := c.listings.Get(ctx, "/")
		if err != nil {
			return remote.Entry{}, err
		}
		return ds.Self(), nil
	}
	return c.Lookup(ctx, remote.Dir(p), remote.Base(p))
}

// Lookup finds name in dir, case-insensitively. The entry's Path carries
// the server's spelling.
func (c *Cache) Lookup(ctx context.Context, dir, name string) (remote.Entry, error) {
	if e, ok := c.pendingEntry(remote.Join(dir, name)); ok {
		return e, nil // written here, not (yet) on the server: staging answers
	}
	ds, err := c.listings.Get(ctx, dir)
	if err != nil {
		return remote.Entry{}, err
	}
	if ds.Gone() {
		return remote.Entry{}, notFound("lookup", remote.Join(dir, name))
	}
	e, ok := ds.Find(name)
	if !ok {
		if e, ok := c.recentEntry(remote.Join(dir, name)); ok {
			return e, nil // uploaded by us; the listing predates it
		}
		return remote.Entry{}, notFound("lookup", remote.Join(dir, name))
	}
	return e, nil
}

// ReadDir returns the children of dir sorted by name (byte order of the
// server names).
func (c *Cache) ReadDir(ctx context.Context, dir string) ([]remote.Entry, error) {
	ds, err := c.listings.Get(ctx, dir)
	if err != nil {
		return nil, err
	}
	if ds.Gone() {
		return nil, notFound("readdir", dir)
	}
	return c.withPending(dir, ds.Kids()), nil
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
	ds := c.listings.Stored(dir)
	if ds == nil || ds.Gone() {
		return remote.Entry{}, false
	}
	if p == "/" {
		return ds.Self(), true
	}
	return ds.Find(remote.Base(p))
}

// Invalidate forgets the freshness of dir's listing, so the next lookup
// asks the server (the stale listing still serves if it is away).
func (c *Cache) Invalidate(dir string) { c.listings.Invalidate(dir) }
