package cache

// The facade's reads of listings — Stat, Lookup, ReadDir, Cached —
// and the one place where pending files and files just uploaded from
// here are overlaid onto what the server listed (pendingEntry,
// pendingIn, recentEntry, withPending). The listings themselves are
// cache/internal/listing's.

import (
	"context"
	"sort"
	"strings"

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
	e, ok := ds.Find(name)
	if !ok || ds.Gone() {
		// "Not there" never rests on a listing only an earlier run saw
		// (listing.Store.Settle).
		ds = c.listings.Settle(ctx, dir, ds)
		e, ok = ds.Find(name)
	}
	if ds.Gone() {
		return remote.Entry{}, notFound("lookup", remote.Join(dir, name))
	}
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

// pendingEntry returns the entry of a pending file at p.
func (c *Cache) pendingEntry(p string) (remote.Entry, bool) {
	if w := c.wr(); w != nil {
		return w.PendingEntry(p)
	}
	return remote.Entry{}, false
}

// pendingIn returns the pending files directly in dir.
func (c *Cache) pendingIn(dir string) []remote.Entry {
	if w := c.wr(); w != nil {
		return w.PendingIn(dir)
	}
	return nil
}

// recentEntry returns a file this run uploaded to p less than
// DirCacheTime ago.
func (c *Cache) recentEntry(p string) (remote.Entry, bool) {
	if w := c.wr(); w != nil {
		return w.RecentEntry(p)
	}
	return remote.Entry{}, false
}

// withPending returns a copy of a folder's listed children with the
// pending files of dir laid over them (staged size and mtime win; files
// not yet on the server are added), sorted by name.
func (c *Cache) withPending(dir string, kids []remote.Entry) []remote.Entry {
	out := append([]remote.Entry(nil), kids...)
	pend := c.pendingIn(dir)
	if len(pend) == 0 {
		return out
	}
	idx := make(map[string]int, len(out))
	for i, k := range out {
		idx[strings.ToLower(k.Name())] = i
	}
	for _, e := range pend {
		i, ok := idx[strings.ToLower(e.Name())]
		switch {
		case e.Hidden: // uploaded recently: only when the listing lacks it
			if !ok {
				e.Hidden = false
				out = append(out, e)
			}
		case ok:
			out[i] = e
		default:
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}
