package listing

// Listing ahead. A walk (find, rsync, restic, du) lists a folder and then
// each of its subfolders, one round trip after the other: at 20 ms per
// request a tree of 1,000 folders costs 20 s of waiting, whatever the
// bandwidth. So when a lookup gets a folder's listing, its subfolders
// that have no listing yet are queued and listed in the background by up
// to Options.Ahead workers (--max-concurrent), before the walk asks for
// them; the walk's own lookup then finds the listing, or joins the fetch
// under way (one request either way).
//
// Bounds: at most AheadBudget listings fetched ahead and not yet used
// by a lookup (each use gives one back), so a walk that stops does not
// make the workers list the rest of the library; and the queue is
// dropped once no lookup has come for aheadIdle (nobody walks). Nothing
// is listed ahead while the server is away.

import (
	"sync"
	"time"

	"github.com/odfb/odfb/cache/internal/metadb"
)

// aheadIdle is how long the queue waits for a lookup before it is dropped.
const aheadIdle = 2 * time.Second

// DefaultAheadBudget bounds the listings fetched ahead and not yet used.
const DefaultAheadBudget = 256

type ahead struct {
	mu      sync.Mutex
	queue   []string
	queued  map[string]bool // keys in queue or being fetched
	claimed map[string]bool // queued or being fetched, and already asked for by a lookup
	unused  map[string]bool // fetched ahead, not yet used by a lookup
	running int
	lastUse time.Time // the last lookup
	fetched int64     // listings fetched ahead so far (tests, logs)
}

func (a *ahead) init() {
	if a.queued == nil {
		a.queued, a.claimed, a.unused = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
}

// used is called for every lookup's listing: it gives back what the
// listing cost of the budget and queues its subfolders.
func (s *Store) used(ds *Dir) {
	if s.o.Ahead <= 0 {
		return
	}
	a := &s.ahead
	s.mu.Lock()
	key := metadb.Key(ds.rec.Path)
	first := !ds.kidsQueued && !ds.rec.Gone
	ds.kidsQueued = true
	s.mu.Unlock()
	a.mu.Lock()
	a.init()
	a.lastUse = s.o.Now()
	if a.unused[key] {
		delete(a.unused, key)
	} else if a.queued[key] {
		a.claimed[key] = true
	}
	a.mu.Unlock()
	if first && !s.o.Reach.Holding() {
		s.queueKids(ds)
	}
	s.startWorkers() // the budget may have room again
}

// queueKids queues ds's subfolders that have no listing.
func (s *Store) queueKids(ds *Dir) {
	var dirs []string
	for _, k := range ds.Kids() {
		if k.IsDir && s.Stored(k.Path) == nil {
			dirs = append(dirs, k.Path)
		}
	}
	if len(dirs) == 0 {
		return
	}
	a := &s.ahead
	a.mu.Lock()
	a.init()
	for _, d := range dirs {
		if k := metadb.Key(d); !a.queued[k] {
			a.queued[k] = true
			a.queue = append(a.queue, d)
		}
	}
	a.mu.Unlock()
}

// startWorkers starts workers up to Options.Ahead while folders are
// queued and the budget has room.
func (s *Store) startWorkers() {
	a := &s.ahead
	a.mu.Lock()
	room := s.budget() - len(a.unused) - (len(a.queued) - len(a.queue))
	start := max(min(s.o.Ahead-a.running, len(a.queue), room), 0)
	a.running += start
	a.mu.Unlock()
	for range start {
		s.o.WG.Add(1)
		go s.aheadWorker()
	}
}

// next returns the next folder to list ahead, or "" when the worker
// should stop (queue empty, budget spent, nobody walking, closing).
func (s *Store) next() string {
	a := &s.ahead
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.o.Now().Sub(a.lastUse) > aheadIdle || s.o.Ctx.Err() != nil {
		for _, d := range a.queue {
			delete(a.queued, metadb.Key(d))
			delete(a.claimed, metadb.Key(d))
		}
		a.queue = nil
		clear(a.unused)
	}
	inFlight := len(a.queued) - len(a.queue)
	if len(a.queue) == 0 || len(a.unused)+inFlight >= s.budget() {
		a.running--
		return ""
	}
	d := a.queue[0]
	a.queue = a.queue[1:]
	a.fetched++
	return d
}

func (s *Store) budget() int {
	if s.o.AheadBudget > 0 {
		return s.o.AheadBudget
	}
	return DefaultAheadBudget
}

// aheadWorker lists queued folders until next says stop.
func (s *Store) aheadWorker() {
	defer s.o.WG.Done()
	for {
		dir := s.next()
		if dir == "" {
			return
		}
		key := metadb.Key(dir)
		fetched := false
		if s.Stored(dir) == nil && !s.o.Reach.Holding() {
			skipped := false
			r := <-s.lists.DoChan(key, func() (any, error) {
				if cur := s.Stored(dir); cur != nil {
					skipped = true // a lookup's fetch got there first
					return cur, nil
				}
				return s.Fetch(dir)
			})
			fetched = r.Err == nil && !skipped
		}
		a := &s.ahead
		a.mu.Lock()
		delete(a.queued, key)
		if !a.claimed[key] && fetched {
			a.unused[key] = true
		}
		delete(a.claimed, key)
		a.mu.Unlock()
	}
}

// AheadFetched reports how many listings were fetched ahead (tests).
func (s *Store) AheadFetched() int64 {
	s.ahead.mu.Lock()
	defer s.ahead.mu.Unlock()
	return s.ahead.fetched
}
