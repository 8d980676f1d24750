package cache

import (
	"context"
	"time"

	"github.com/odfb/odfb/cache/internal/writes"
	"github.com/odfb/odfb/remote"
)

// The write side (cache/internal/writes) as the facade offers it: every
// write operation answers ErrNoWrites until StartWrites, and again after
// CloseWrites. What the names mean is documented in the part.

// Defaults for WriteOptions.
const (
	DefaultWriteBack    = writes.DefaultWriteBack
	DefaultTransfers    = writes.DefaultTransfers
	DefaultPutLimit     = writes.DefaultPutLimit
	DefaultChunkSize    = writes.DefaultChunkSize
	DefaultDrainTimeout = writes.DefaultDrainTimeout
)

type (
	// WriteOptions configure the write side.
	WriteOptions = writes.WriteOptions
	// WriteHandle is a file open through the staging area.
	WriteHandle = writes.WriteHandle
	// Status is the write side's state, as `odfb status` shows it.
	Status = writes.Status
	// QueueItem is one pending upload in Status.
	QueueItem = writes.QueueItem
	// SyncError lists the uploads a Sync could not complete.
	SyncError = writes.SyncError
	// LostItem is a file moved to lost+found.
	LostItem = writes.LostItem
	// LostError is the error of a file the server refused for good.
	LostError = writes.LostError
	// ConflictItem is a conflict copy made by this run.
	ConflictItem = writes.ConflictItem
)

// wr returns the write side, or nil when StartWrites was not called.
func (c *Cache) wr() *writes.Writer { return c.writes.Load() }

// StartWrites enables the write side: it prepares staging/ and
// lost+found/, loads the journal left by an earlier run (its uploads
// resume at once) and starts the uploader. Call it once, after Open.
func (c *Cache) StartWrites(opts WriteOptions) error {
	w, err := writes.New(writes.Options{WriteOptions: opts, CacheDir: c.opts.Dir, DB: c.db, Remote: c.remote,
		Host: host{c}, Log: c.log, Now: c.now, TTL: c.ttl})
	if err != nil {
		return err
	}
	c.writes.Store(w)
	return nil
}

// CloseWrites drains the queue (up to DrainTimeout), then stops the
// uploader, and returns how many uploads are left: they stay in the
// journal and resume at the next run. Close calls it; calling it again
// does nothing.
func (c *Cache) CloseWrites() int {
	w := c.wr()
	if w == nil {
		return 0
	}
	left := w.Close()
	c.writes.CompareAndSwap(w, nil)
	return left
}

// Pending reports whether the file at p has local changes (open for
// writing or waiting for its upload).
func (c *Cache) Pending(p string) bool {
	_, ok := c.pendingEntry(p)
	return ok
}

// OpenWrite opens the file at p through staging. create makes a new file
// (ErrExists when excl and something is there); trunc empties it (no
// download); otherwise the server's content is fetched into staging the
// first time it is needed.
func (c *Cache) OpenWrite(ctx context.Context, p string, create, excl, trunc bool) (*WriteHandle, error) {
	if w := c.wr(); w != nil {
		return w.OpenWrite(ctx, p, create, excl, trunc)
	}
	return nil, ErrNoWrites
}

// SetModTime records an explicit mtime for p (writes.Writer.SetModTime).
func (c *Cache) SetModTime(ctx context.Context, p string, t time.Time) error {
	if w := c.wr(); w != nil {
		return w.SetModTime(ctx, p, t)
	}
	return ErrNoWrites
}

// Truncate sets the size of the file at p (setattr without a handle).
func (c *Cache) Truncate(ctx context.Context, p string, size int64) error {
	if w := c.wr(); w != nil {
		return w.Truncate(ctx, p, size)
	}
	return ErrNoWrites
}

// Mkdir creates a folder on the server (one MKCOL) with an empty listing.
func (c *Cache) Mkdir(ctx context.Context, p string) (remote.Entry, error) {
	if w := c.wr(); w != nil {
		return w.Mkdir(ctx, p)
	}
	return remote.Entry{}, ErrNoWrites
}

// Remove deletes the file at p; a pending upload of it is cancelled.
func (c *Cache) Remove(ctx context.Context, p string) error {
	if w := c.wr(); w != nil {
		return w.Remove(ctx, p)
	}
	return ErrNoWrites
}

// Rmdir deletes an empty folder.
func (c *Cache) Rmdir(ctx context.Context, p string) error {
	if w := c.wr(); w != nil {
		return w.Rmdir(ctx, p)
	}
	return ErrNoWrites
}

// Rename moves src to dst, replacing dst unless noReplace.
func (c *Cache) Rename(ctx context.Context, src, dst string, noReplace bool) error {
	if w := c.wr(); w != nil {
		return w.Rename(ctx, src, dst, noReplace)
	}
	return ErrNoWrites
}

// Sync uploads every journaled file now and waits for each
// (writes.Writer.Sync). Without a write side there is nothing to wait for.
func (c *Cache) Sync(ctx context.Context) error {
	if w := c.wr(); w != nil {
		return w.Sync(ctx)
	}
	return nil
}

// Status returns the upload queue, failures, lost+found and cache use.
func (c *Cache) Status() Status {
	var st Status
	if w := c.wr(); w != nil {
		st = w.Status()
	} else {
		st = Status{CacheDir: c.opts.Dir, Now: c.now()}
	}
	st.Offline, st.ContentBytes = c.Offline(), c.ContentUsed()
	return st
}

// PendingUploads counts journaled files not yet on the server.
func (c *Cache) PendingUploads() int {
	if w := c.wr(); w != nil {
		return w.PendingUploads()
	}
	return 0
}

// LostFound lists the files in lost+found (none without a write side).
func (c *Cache) LostFound() []LostItem {
	if w := c.wr(); w != nil {
		return w.LostFound()
	}
	return nil
}

// host gives the write side the listings and the content store
// (writes.Host).
type host struct{ c *Cache }

func (h host) Stat(ctx context.Context, p string) (remote.Entry, error) { return h.c.Stat(ctx, p) }
func (h host) ReadDir(ctx context.Context, dir string) ([]remote.Entry, error) {
	return h.c.ReadDir(ctx, dir)
}
func (h host) Invalidate(dir string)                 { h.c.listings.Invalidate(dir) }
func (h host) SetEntry(e remote.Entry)               { h.c.listings.SetEntry(e) }
func (h host) SetEmpty(e remote.Entry, at time.Time) { h.c.listings.SetEmpty(e, at) }
func (h host) RemoveEntry(p string)                  { h.c.listings.RemoveEntry(p) }
func (h host) ForgetTree(p string)                   { h.c.listings.ForgetTree(p) }
func (h host) DropContent(p string)                  { h.c.content.Drop(p, "") }
func (h host) OpenContent(e remote.Entry) (writes.ContentReader, error) {
	return h.c.content.OpenEntry(e)
}
func (h host) AdoptContent(p, etag string, size int64, src string) bool {
	return h.c.content.Adopt(p, etag, size, src)
}
