package writes

import (
	"context"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// Host is what the write side asks of the cache around it: the other
// parts (listings, content) are reached only through it, so that this
// part imports none of them (the rule of cache/doc.go). The cache
// facade implements it. None of its methods is called with Writer.mu
// held: Stat and ReadDir lay the pending files over listings and take
// Writer.mu themselves.
type Host interface {
	// Stat and ReadDir answer as the mount does: listings with the
	// pending files laid over them.
	Stat(ctx context.Context, p string) (remote.Entry, error)
	ReadDir(ctx context.Context, dir string) ([]remote.Entry, error)
	// Invalidate forgets the freshness of dir's listing.
	Invalidate(dir string)
	// SetEntry puts e into its folder's listing; SetEmpty stores the
	// empty listing of a folder just made; RemoveEntry takes p out of
	// its folder's listing; ForgetTree drops the listings at and under p.
	SetEntry(e remote.Entry)
	SetEmpty(e remote.Entry, at time.Time)
	RemoveEntry(p string)
	ForgetTree(p string)
	// OpenContent opens the server's version e through the content
	// cache; DropContent forgets cached content of p; AdoptContent makes
	// the staging file src the fully cached content of version etag.
	OpenContent(e remote.Entry) (ContentReader, error)
	DropContent(p string)
	AdoptContent(p, etag string, size int64, src string) bool
}

// ContentReader reads a version of a file through the content cache.
type ContentReader interface {
	ReadAt(ctx context.Context, b []byte, off int64) (int, error)
	Close() error
}

// Options configure a Writer.
type Options struct {
	WriteOptions
	// CacheDir is the cache directory; staging/ and lost+found/ are
	// made in it.
	CacheDir string
	DB       *bolt.DB
	Remote   remote.Remote
	Host     Host
	Log      *slog.Logger
	Now      func() time.Time
	// TTL is the listing cache time: how long a file just uploaded is
	// shown even when a listing lacks it.
	TTL time.Duration
}

// fold is the key under which a path is compared (metadb.Key).
func fold(p string) string { return metadb.Key(p) }

// sameETag compares two entity tags (metadb.SameETag).
func sameETag(a, b string) bool { return metadb.SameETag(a, b) }

// JournalRecord is one pending upload as stored in meta.db's journal.
type JournalRecord = metadb.JournalRecord
