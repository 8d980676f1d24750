package listing

// Freshness from the server's change log (remote.ChangeLog; docs/mount.md
// "How freshness works").
//
// A change token names a point of the library's change log. The token is
// taken before any listing it covers is asked for: a listing whose
// request was sent at or after base (DirRecord.Fetched is the time the
// request was sent) shows every change up to the token, and asking the
// log "what changed after the token" tells which of those listings a
// later change touched. Those are marked changed (their Fetched cleared,
// persisted, and counted as an edit so that a fetch in flight is asked
// again); every other covered listing is then known to be current as of
// the time the question was sent (confirmed), with no request per
// folder. So a listing serves while now - max(Fetched, confirmed) <
// TTL, and once that passes one GetChanges for the whole library (not one
// PROPFIND per folder) renews all of them. --poll-interval asks on a
// timer as well, so other clients' changes show within one poll.
//
// Fallbacks, each logged once: a token the server no longer knows (the
// log's retention passed), more changes than one Changes call returns,
// or a change that cannot be placed (no path and an id no listing holds)
// start a new chain from a new token — listings asked before it are not
// covered and are revalidated one by one after TTL, as without the log.
// A server without the log (plain WebDAV, ErrNotSupported, an answer not
// understood) turns it off for the run. A failure that may pass (server
// away, throttled, 5xx) confirms nothing: the listings age as they would
// without the log.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// keyChangeLog is the change-log state's key in meta.db's "meta" bucket.
var keyChangeLog = []byte("changelog")

// logRecord is the change-log state as stored.
type logRecord struct {
	Token     string    `json:"token"`
	Base      time.Time `json:"base"`
	Confirmed time.Time `json:"confirmed"`
}

// changeLog is the Store's use of the server's change log.
type changeLog struct {
	cl remote.ChangeLog // nil: none, or given up for this run

	mu  sync.Mutex
	rec logRecord
	// logged: fallbacks already logged (once each per run).
	logged map[string]bool
	// retryAt: a change query failed in a way that may pass; lookups do
	// not ask again before then (the listings age meanwhile).
	retryAt time.Time
}

func newChangeLog(o Options) *changeLog {
	cl, _ := o.Remote.(remote.ChangeLog)
	if o.NoChangeLog {
		cl = nil
	}
	l := &changeLog{cl: cl, logged: map[string]bool{}}
	if cl != nil {
		if _, err := metadb.GetJSON(o.DB, metadb.BucketMeta, string(keyChangeLog), &l.rec); err != nil {
			o.Log.Warn("cannot read the stored change token; starting a new one", "err", err)
			l.rec = logRecord{}
		}
	}
	return l
}

// on reports whether the change log is in use.
func (l *changeLog) on() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cl != nil
}

// state returns the token chain's start and last confirmation.
func (l *changeLog) state() (on bool, base, confirmed time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cl != nil && l.rec.Token != "", l.rec.Base, l.rec.Confirmed
}

// covered reports whether a listing asked for at fetched shows the
// changes up to the chain's token.
func covered(fetched, base time.Time) bool {
	return !fetched.IsZero() && !base.IsZero() && !fetched.Before(base)
}

// freshAt is when dir's listing was last known current: its fetch, or
// the last confirmation by the change log when the log covers it.
func (s *Store) freshAt(fetched time.Time) time.Time {
	on, base, confirmed := s.log.state()
	if on && covered(fetched, base) && confirmed.After(fetched) {
		return confirmed
	}
	return fetched
}

// logDue reports whether the change log should be asked before a lookup
// of a listing fetched at fetched (a covered listing past its TTL, or no
// token yet).
func (s *Store) logDue(fetched time.Time) bool {
	if !s.log.on() || s.o.Reach.Holding() {
		return false
	}
	s.log.mu.Lock()
	wait := s.o.Now().Before(s.log.retryAt)
	s.log.mu.Unlock()
	if wait {
		return false
	}
	on, base, confirmed := s.log.state()
	if !on {
		return true // no token yet: take one before listing
	}
	return covered(fetched, base) && s.o.Now().Sub(confirmed) >= s.o.TTL
}

// SyncChanges asks the change log what changed since the stored token
// and marks the folders it touched as changed (one request for the
// whole library; the first call takes a token). Concurrent calls share
// one request. It is a no-op without a change log.
func (s *Store) SyncChanges(ctx context.Context) error {
	if !s.log.on() {
		return nil
	}
	ch := s.lists.DoChan("\x00changelog", func() (any, error) { return nil, s.syncChanges() })
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-ch:
		return r.Err
	}
}

// syncChanges is one round of SyncChanges (run once at a time).
func (s *Store) syncChanges() error {
	l := s.log
	l.mu.Lock()
	tok, cl := l.rec.Token, l.cl
	l.mu.Unlock()
	if cl == nil {
		return nil
	}
	asked := s.o.Now()
	if tok == "" {
		return s.newChain(cl, asked, "")
	}
	changes, next, more, err := cl.Changes(s.o.Ctx, tok)
	switch {
	case errors.Is(err, remote.ErrChangeToken):
		return s.newChain(cl, asked, "the server no longer knows the stored change token (its change log is kept for a limited time)")
	case err != nil:
		return s.logFailed(err)
	case more:
		return s.newChain(cl, asked, "more changes than one query returns")
	}
	s.o.Reach.Back()
	if why := s.applyChanges(changes); why != "" {
		return s.newChain(cl, asked, why)
	}
	s.saveLog(logRecord{Token: next, Base: s.logBase(), Confirmed: asked})
	return nil
}

// logBase returns the chain's base.
func (s *Store) logBase() time.Time {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return s.log.rec.Base
}

// logFailed handles a failed change query: no log (turned off for the
// run) or a failure that may pass (nothing confirmed).
func (s *Store) logFailed(err error) error {
	if errors.Is(err, remote.ErrNotSupported) || errors.Is(err, remote.ErrForbidden) {
		// No log, an answer not understood, or refused for good (the
		// permission, the list-view threshold): asking again each poll
		// would not change it.
		s.logOnce("off", "the server has no usable change log; folders are revalidated one by one after --dir-cache-time", err)
		s.log.mu.Lock()
		s.log.cl = nil
		s.log.mu.Unlock()
		return nil
	}
	if errors.Is(err, remote.ErrUnavailable) {
		s.o.Reach.Away(err)
	}
	if s.o.Ctx.Err() == nil {
		s.log.mu.Lock()
		s.log.retryAt = s.o.Now().Add(s.o.Reach.Interval())
		s.log.mu.Unlock()
	}
	return err
}

// newChain starts a new token chain at asked: listings asked for before
// it are no longer covered. why (when not empty) is logged once.
func (s *Store) newChain(cl remote.ChangeLog, asked time.Time, why string) error {
	if why != "" {
		s.logOnce(why, "change log not usable this time; folders listed before now are revalidated one by one", errors.New(why))
	}
	tok, err := cl.ChangeToken(s.o.Ctx)
	if err != nil {
		return s.logFailed(err)
	}
	s.o.Reach.Back()
	s.saveLog(logRecord{Token: tok, Base: asked, Confirmed: asked})
	return nil
}

func (s *Store) logOnce(key, msg string, err error) {
	s.log.mu.Lock()
	seen := s.log.logged[key]
	s.log.logged[key] = true
	s.log.mu.Unlock()
	if !seen {
		s.o.Log.Info(msg, "why", err)
	}
}

// saveLog installs and persists the change-log state.
func (s *Store) saveLog(rec logRecord) {
	s.log.mu.Lock()
	if s.log.cl == nil {
		s.log.mu.Unlock()
		return
	}
	s.log.rec = rec
	s.log.mu.Unlock()
	data, _ := json.Marshal(rec)
	// The listings the changes marked go to disk with the token, never
	// after it (commit.go).
	err := s.Flush(func(tx *bolt.Tx) error { return tx.Bucket(metadb.BucketMeta).Put(keyChangeLog, data) })
	if err != nil {
		s.o.Log.Warn("cannot store the change token", "err", err)
	}
}

// applyChanges marks the folders the changes touched; it returns why a
// change could not be placed ("" when all were).
func (s *Store) applyChanges(changes []remote.Change) string {
	if len(changes) == 0 {
		return ""
	}
	where := s.locate(changes)
	s.editMu.Lock()
	defer s.editMu.Unlock()
	for _, c := range changes {
		old, known := where[c.ID]
		switch {
		case c.Path != "":
			s.markChangedLocked(remote.Dir(c.Path))
			s.markChangedLocked(c.Path) // a folder there now: any record of that path is old
		case !known && (c.Type == remote.ChangeDelete || c.Outside):
			continue // an item none of our listings shows
		case !known:
			return "a change names neither a path nor an item a listing holds"
		}
		if !known {
			continue
		}
		s.markChangedLocked(remote.Dir(old.Path))
		if old.IsDir && metadb.Key(old.Path) != metadb.Key(c.Path) {
			s.forgetTreeLocked(old.Path) // renamed, moved or deleted: its listings are of a path gone
		}
	}
	return ""
}

// markChangedLocked marks dir's stored listing (if any) as changed on
// the server: due at once, and a fetch of it in flight is asked again.
// Called with s.editMu held.
func (s *Store) markChangedLocked(dir string) {
	ds := s.Stored(dir)
	if ds == nil {
		return
	}
	s.mu.Lock()
	rec := ds.rec
	s.mu.Unlock()
	rec.Fetched = time.Time{}
	s.editLocked(metadb.Key(dir), newDir(rec, true))
}

// locate finds, for the changes that need it, where the item with the
// change's id is in the stored listings (by the GUID of its ETag).
func (s *Store) locate(changes []remote.Change) map[string]remote.Entry {
	want := map[string]bool{}
	for _, c := range changes {
		if c.ID != "" && (c.Path == "" || c.Type != remote.ChangeAdd) {
			want[c.ID] = true
		}
	}
	found := map[string]remote.Entry{}
	if len(want) == 0 {
		return found
	}
	look := func(rec *metadb.DirRecord) {
		if id := etagGUID(rec.Self.ETag); want[id] {
			found[id] = rec.Self
		}
		for _, k := range rec.Kids {
			if id := etagGUID(k.ETag); want[id] {
				found[id] = k
			}
		}
	}
	seen := map[string]bool{}
	s.mu.Lock()
	for key, ds := range s.dirs {
		seen[key] = true
		rec := ds.rec
		look(&rec)
	}
	s.mu.Unlock()
	s.scanStored(want, seen, look)
	return found
}

// scanStored runs look on the stored listings not in seen whose record
// mentions one of the wanted ids (a byte search before any decoding, so
// a library of a million entries is scanned without decoding it).
func (s *Store) scanStored(want, seen map[string]bool, look func(*metadb.DirRecord)) {
	var needles [][]byte
	for id := range want {
		needles = append(needles, []byte(strings.ToUpper(id)), []byte(id))
	}
	err := s.o.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(metadb.BucketDirs).ForEach(func(k, v []byte) error {
			if seen[string(k)] || !containsAny(v, needles) {
				return nil
			}
			var rec metadb.DirRecord
			if json.Unmarshal(v, &rec) == nil {
				look(&rec)
			}
			return nil
		})
	})
	if err != nil {
		s.o.Log.Warn("cannot read the stored listings", "err", err)
	}
}

func containsAny(v []byte, needles [][]byte) bool {
	for _, n := range needles {
		if bytes.Contains(v, n) {
			return true
		}
	}
	return false
}

// etagGUID returns the lower-case GUID of a SharePoint ETag
// ("{GUID},N", quoted or not), or "".
func etagGUID(etag string) string {
	i := strings.IndexByte(etag, '{')
	j := strings.IndexByte(etag, '}')
	if i < 0 || j < i+2 {
		return ""
	}
	return strings.ToLower(etag[i+1 : j])
}

// Poll asks the change log every interval until the cache closes.
func (s *Store) Poll(interval time.Duration) {
	if interval <= 0 || !s.log.on() {
		return
	}
	s.o.WG.Add(1)
	go func() {
		defer s.o.WG.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.o.Ctx.Done():
				return
			case <-t.C:
				if err := s.SyncChanges(s.o.Ctx); err != nil && s.o.Ctx.Err() == nil {
					s.o.Log.Debug("polling the change log failed; trying again at the next poll", "err", err)
				}
			}
		}
	}()
}
