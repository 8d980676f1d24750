package writes

// Locks here: journal.mu is a leaf (taken under Writer.mu by put and
// del, nothing taken while it is held); journal.applyMu is taken without
// Writer.mu, and held across the bbolt commit (with its fsync) and the
// ops' after functions, which take no lock.

import (
	"log/slog"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
)

// journal orders the changes of the upload journal without holding
// Writer.mu across their commit. A change is queued while Writer.mu is
// held, so the journal sees the changes in the order the pending files'
// states changed; it is committed without Writer.mu, in queue order,
// together with everything queued meanwhile (one bbolt transaction, one
// fsync): by the caller when it must be durable before going on (a
// flush, fsync or close, a rename, a chunk's offset; wait), else by the
// journal's goroutine moments later. Lookups, stats and listings, which
// take Writer.mu, thus never wait for an fsync of meta.db.
//
// What a crash between queueing and commit leaves is what a crash just
// before the change left before: a record not yet removed (the upload is
// checked against the server and not sent twice, serverHasOurs), a retry
// time not yet stored (the next start tries at once). A staging file is
// only deleted (after) once the removal of its record is committed, and
// an uploaded one only adopted as content once its record is gone.
type journal struct {
	db  *bolt.DB
	log *slog.Logger

	mu sync.Mutex // guards q
	q  []jop

	applyMu sync.Mutex // one commit at a time: batches land in queue order
	kick    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

// jop is a queued change: res receives its outcome once committed (it
// has room for it, so nobody has to read it); after runs once the commit
// was tried, whether it worked or not (a failure is logged; a staging
// file kept for a record whose removal failed would be uploaded again
// after a restart, which is worse than a record without its file, which
// the next start reports and drops).
type jop struct {
	op    metadb.JournalOp
	path  string // for the log
	res   chan error
	after func()
}

func newJournal(db *bolt.DB, log *slog.Logger) *journal {
	j := &journal{db: db, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	j.wg.Add(1)
	go j.run()
	return j
}

// put queues writing rec (called with Writer.mu held, like del); the
// returned channel gets the outcome of the commit.
func (j *journal) put(rec JournalRecord) <-chan error {
	return j.add(jop{op: metadb.JournalOp{Put: &rec}, path: rec.Path})
}

// del queues removing the record id of the file at path; after, if not
// nil, runs once that is committed.
func (j *journal) del(id, path string, after func()) <-chan error {
	return j.add(jop{op: metadb.JournalOp{Delete: id}, path: path, after: after})
}

func (j *journal) add(o jop) <-chan error {
	o.res = make(chan error, 1)
	j.mu.Lock()
	j.q = append(j.q, o)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	return o.res
}

// wait commits what is queued (with the caller's change) and returns
// the outcome of the change res stands for. Never with Writer.mu held.
func (j *journal) wait(res <-chan error) error {
	j.flush()
	return <-res
}

// flush commits everything queued, in order. A failed commit is logged
// for every change in it (and handed to whoever waits for one).
func (j *journal) flush() {
	j.applyMu.Lock()
	defer j.applyMu.Unlock()
	j.mu.Lock()
	q := j.q
	j.q = nil
	j.mu.Unlock()
	if len(q) == 0 {
		return
	}
	ops := make([]metadb.JournalOp, len(q))
	for i, o := range q {
		ops[i] = o.op
	}
	err := applyJournal(j.db, ops)
	for _, o := range q {
		if err != nil {
			j.log.Warn("cannot update the upload journal; after a crash this file's upload may be repeated or its retry state lost",
				"path", o.path, "err", err)
		}
		if o.after != nil {
			o.after()
		}
		o.res <- err
	}
}

func (j *journal) run() {
	defer j.wg.Done()
	for {
		select {
		case <-j.kick:
			j.flush()
		case <-j.stop:
			j.flush()
			return
		}
	}
}

// close commits what is left and stops the goroutine.
func (j *journal) close() {
	close(j.stop)
	j.wg.Wait()
}

// applyJournal is metadb.ApplyJournal; a test holds a commit with it.
var applyJournal = metadb.ApplyJournal
