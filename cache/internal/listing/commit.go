package listing

// Listings are a cache: they are written to meta.db in batches, not one
// fsynced bbolt commit per folder (a cold walk of 1,000 folders was 1,000
// commits, each two fsyncs). A listing installed in memory is queued; the
// queue is committed in one transaction every commitEvery, at once when
// it holds commitBatch records, before the change token is stored (the
// token must never be on disk ahead of the listings it covers), and when
// the cache closes. A crash loses at most the listings of the last
// interval, which are fetched again. The upload journal does not go
// through here: its commits stay synchronous (metadb/journal.go).

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
)

const (
	commitEvery = 250 * time.Millisecond
	commitBatch = 128
)

// committer queues listings for meta.db.
type committer struct {
	mu      sync.Mutex
	pending map[string]metadb.DirRecord // key → record to write
	kick    chan struct{}
	done    chan struct{} // closed after the last flush
	// commits counts the bbolt transactions that wrote listings (tests).
	commits atomic.Int64
}

func newCommitter() *committer {
	return &committer{pending: map[string]metadb.DirRecord{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// queue records rec to be written under key.
func (s *Store) queue(key string, rec metadb.DirRecord) {
	c := s.commit
	c.mu.Lock()
	c.pending[key] = rec
	full := len(c.pending) >= commitBatch
	c.mu.Unlock()
	if full {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// unqueueTree drops the queued records of key and everything under it
// (a subtree being forgotten must not be written back after).
func (s *Store) unqueueTree(key string) {
	c := s.commit
	c.mu.Lock()
	for k := range c.pending {
		if k == key || strings.HasPrefix(k, key+"/") {
			delete(c.pending, k)
		}
	}
	c.mu.Unlock()
}

// Flush writes the queued listings now (and extra, when not nil, in the
// same transaction).
func (s *Store) Flush(extra func(*bolt.Tx) error) error {
	c := s.commit
	c.mu.Lock()
	batch := c.pending
	c.pending = map[string]metadb.DirRecord{}
	c.mu.Unlock()
	if len(batch) == 0 && extra == nil {
		return nil
	}
	data := make(map[string][]byte, len(batch))
	for k, rec := range batch {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		data[k] = b
	}
	c.commits.Add(1)
	err := s.o.DB.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(metadb.BucketDirs)
		for k, v := range data {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
	if err != nil {
		s.o.Log.Warn("cannot store listings in the cache database; they will be fetched again", "listings", len(batch), "err", err)
	}
	return err
}

// Commits reports how many transactions wrote listings (tests).
func (s *Store) Commits() int64 { return s.commit.commits.Load() }

// runCommitter flushes the queue on a timer and when kicked, until
// Options.Ctx is done (then once more; Close waits for it).
func (s *Store) runCommitter() {
	go func() {
		defer close(s.commit.done)
		t := time.NewTicker(commitEvery)
		defer t.Stop()
		for {
			select {
			case <-s.o.Ctx.Done():
				s.Flush(nil)
				return
			case <-t.C:
			case <-s.commit.kick:
			}
			s.Flush(nil)
		}
	}()
}

// Close waits for the last flush of the queued listings. Call it after
// Options.Ctx is done and before the database closes.
func (s *Store) Close() { <-s.commit.done }
