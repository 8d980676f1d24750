package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/blocks"
	"github.com/odfb/odfb/cache/internal/listing"
	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/cache/internal/reach"
	"github.com/odfb/odfb/cache/internal/writes"
	"github.com/odfb/odfb/remote"
)

// Defaults for Options.
const (
	DefaultDirCacheTime = time.Minute
	DefaultCacheSize    = 2 << 30 // 2 GiB
	// DefaultPollInterval is --poll-interval's default (rclone's too).
	DefaultPollInterval = time.Minute
)

// Options configure a Cache.
type Options struct {
	// Dir is the cache directory (created 0700; a looser mode is repaired).
	Dir string
	// Library names the library (its URL) so that a cache directory
	// reused for another library is not shown as its tree.
	Library string
	// Remote is the server.
	Remote remote.Remote
	// DirCacheTime is how long a listing serves lookups without asking the
	// server again. 0 means DefaultDirCacheTime.
	DirCacheTime time.Duration
	// CacheSize bounds the content cache in bytes. 0 means
	// DefaultCacheSize. Open files are never evicted, so the limit can be
	// passed while they are.
	CacheSize int64
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// MaxConcurrent bounds the GETs of content in flight
	// (--max-concurrent): a sequential reader's read-ahead window is
	// fetched as that many ranged GETs at once. 0 means
	// blocks.DefaultFetches.
	MaxConcurrent int
	// PollInterval, when > 0, asks the server's change log this often
	// (one request for the whole library), so that other clients'
	// changes show within one interval; listings the log confirms stay
	// fresh without a request. Without a change log on the server it
	// does nothing (--poll-interval).
	PollInterval time.Duration
	// NoChangeLog keeps the cache from using the server's change log:
	// each folder is revalidated after DirCacheTime.
	NoChangeLog bool
	// ListAhead, when > 0, lists the subfolders of a folder a lookup
	// used in the background, this many at once (--max-concurrent), so a
	// walk of a cold tree does not wait one round trip per folder
	// (cache/internal/listing/ahead.go). 0: nothing is listed ahead.
	ListAhead int
}

// Cache is a library's local state. Its methods are safe for concurrent
// use. Its own answers are *Error with the kinds of errors.go (which
// also match the remote kind they stand for); what the server answered
// comes through as the server's *remote.Error; a failure of the local
// disk is a *DiskError. fusefs turns them into errno in one place.
type Cache struct {
	opts   Options
	remote remote.Remote
	db     *bolt.DB
	log    *slog.Logger
	now    func() time.Time
	ttl    time.Duration

	bg     context.Context // lives until Close; background fetches use it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards quota and quotaAt; it is a leaf in the lock order (top
	// of staging.go): nothing else is taken while it is held.
	mu      sync.Mutex
	quota   remote.Quota
	quotaAt time.Time

	// reach says whether the server is reachable (cache/internal/reach).
	reach *reach.State
	// listings are the folder listings (cache/internal/listing).
	listings *listing.Store

	content *blocks.Store
	// writes is the write side (staging, journal, uploads): nil until
	// StartWrites, and again after CloseWrites.
	writes atomic.Pointer[writes.Writer]
}

// Open opens (creating if needed) the cache in opts.Dir.
func Open(opts Options) (*Cache, error) {
	if opts.Remote == nil {
		return nil, errors.New("cache: no remote")
	}
	if opts.DirCacheTime <= 0 {
		opts.DirCacheTime = DefaultDirCacheTime
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := ensurePrivateDir(opts.Dir, opts.Logger); err != nil {
		return nil, err
	}
	db, err := metadb.Open(filepath.Join(opts.Dir, "meta.db"), opts.Library)
	if err != nil {
		return nil, err
	}
	c := &Cache{
		opts: opts, remote: opts.Remote, db: db, log: opts.Logger, now: opts.Now,
		ttl: opts.DirCacheTime,
	}
	c.reach = reach.New(reach.Options{Now: opts.Now, Interval: min(opts.DirCacheTime, 30*time.Second), Logger: opts.Logger,
		OnBack: func() {
			if w := c.wr(); w != nil {
				w.RetryFailedNow()
			}
		}})
	c.bg, c.cancel = context.WithCancel(context.Background())
	c.content, err = blocks.New(blocks.Options{Dir: filepath.Join(opts.Dir, "content"), CacheDir: opts.Dir,
		Limit: opts.CacheSize, DB: db, Log: opts.Logger, Now: opts.Now, Remote: opts.Remote, Reach: c.reach,
		MaxFetches: opts.MaxConcurrent,
		Ctx:        c.bg, WG: &c.wg, Invalidate: c.Invalidate, NotCached: c.notCached,
		Changed: func(p string) error {
			return &Error{Kind: ErrChanged, Op: "read", Path: p, Detail: "reopen it to read the new version"}
		}})
	if err != nil {
		db.Close()
		return nil, err
	}
	c.listings = listing.New(listing.Options{DB: db, Log: opts.Logger, Now: opts.Now, Remote: opts.Remote,
		Reach: c.reach, TTL: opts.DirCacheTime, Ctx: c.bg, WG: &c.wg,
		DropContent: func(p string, keep remote.Entry) {
			v := ""
			if keep.Path != "" {
				v = blocks.VersionOf(keep)
			}
			c.content.Drop(p, v)
		},
		DropContentTree: c.content.DropTree,
		ApplyMtimes:     c.applyMtimes,
		ForgetMtimes:    c.forgetMtimes,
		NotDir:          func(dir string) error { return &Error{Kind: ErrNotDir, Op: "readdir", Path: dir} },
		NoChangeLog:     opts.NoChangeLog, Ahead: opts.ListAhead})
	c.listings.Poll(opts.PollInterval)
	return c, nil
}

// Close drains the upload queue (CloseWrites), stops background work and
// closes the database. Handles still open become unusable.
func (c *Cache) Close() error {
	c.CloseWrites()
	c.cancel()
	c.wg.Wait()
	c.listings.Close()
	c.content.Close()
	return c.db.Close()
}

// SyncChanges asks the server's change log now what changed since the
// last time (one request) and marks the folders it touched for listing
// again; without a change log it does nothing.
func (c *Cache) SyncChanges(ctx context.Context) error { return c.listings.SyncChanges(ctx) }

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.opts.Dir }

// DirCacheTime returns how long a listing is trusted.
func (c *Cache) DirCacheTime() time.Duration { return c.ttl }

// DefaultDir returns the default cache directory of a library:
// $XDG_CACHE_HOME/odfb/<hash>, else ~/.cache/odfb/<hash>, else (root
// without a home) /var/cache/odfb/<hash>, where <hash> is the first 16 hex
// digits of the SHA-256 of the library URL.
func DefaultDir(libraryURL string) string {
	sum := sha256.Sum256([]byte(strings.TrimRight(libraryURL, "/")))
	h := hex.EncodeToString(sum[:8])
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "odfb", h)
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" && home != "/" {
		return filepath.Join(home, ".cache", "odfb", h)
	}
	return filepath.Join("/var/cache/odfb", h)
}

// ensurePrivateDir creates dir 0700, or repairs a looser mode.
func ensurePrivateDir(dir string, log *slog.Logger) error {
	if dir == "" {
		return errors.New("cache: no cache directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("cache directory %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		log.Warn("cache directory was readable by others; setting mode 0700", "dir", dir, "mode", st.Mode().Perm().String())
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("cache directory %s has mode %v and cannot be made private: %w", dir, st.Mode().Perm(), err)
		}
	}
	return nil
}

// notCached is the error of a read of content that is not cached while
// the server is known to be away: it fails at once instead of waiting
// for the server's retries.
func (c *Cache) notCached(p string, until time.Time) error {
	return &Error{Kind: ErrNotCached, Op: "read", Path: p,
		Detail: fmt.Sprintf("this part of the file is not cached and the server was unreachable moments ago (next try in %s)",
			max(until.Sub(c.now()), 0).Round(time.Second))}
}

// Offline reports whether the server was found unreachable recently.
func (c *Cache) Offline() bool { return c.reach.Offline() }

// Quota returns the library's space, asking the server at most once per
// DirCacheTime. When the server is away the last answer is returned.
func (c *Cache) Quota(ctx context.Context) (remote.Quota, error) {
	c.mu.Lock()
	q, at := c.quota, c.quotaAt
	c.mu.Unlock()
	away := c.reach.Holding()
	if !at.IsZero() && (c.now().Sub(at) < c.ttl || away) {
		return q, nil
	}
	nq, err := c.remote.Quota(ctx)
	if err != nil {
		if errors.Is(err, remote.ErrUnavailable) {
			c.reach.Away(err)
		}
		return q, err
	}
	c.mu.Lock()
	c.quota, c.quotaAt = nq, c.now()
	c.mu.Unlock()
	return nq, nil
}

// fold is the key under which a path is compared (metadb.Key).
func fold(p string) string { return metadb.Key(p) }

// sameETag compares two entity tags (metadb.SameETag).
func sameETag(a, b string) bool { return metadb.SameETag(a, b) }
