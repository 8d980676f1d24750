package reach

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/odfb/odfb/remote"
)

// Options configure a State.
type Options struct {
	// Now is the clock.
	Now func() time.Time
	// Interval is how long the server is left alone once it was found
	// unreachable.
	Interval time.Duration
	// Logger receives the away and back lines.
	Logger *slog.Logger
	// OnBack, if set, runs (without the lock) after every answer that
	// shows the server reachable.
	OnBack func()
}

// State is the server's reachability. Its methods are safe for
// concurrent use.
type State struct {
	opts Options

	mu      sync.Mutex
	offline bool      // found unreachable, not yet answered since
	until   time.Time // do not ask before this time
}

// New returns a State that takes the server to be reachable.
func New(opts Options) *State { return &State{opts: opts} }

// Interval is how long the server is left alone once found unreachable.
func (s *State) Interval() time.Duration { return s.opts.Interval }

// Away records that the server could not be reached; the warning is
// logged the first time only.
func (s *State) Away(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.until = s.opts.Now().Add(s.opts.Interval)
	if !s.offline {
		s.offline = true
		s.opts.Logger.Warn("server unreachable; serving the cached tree and cached content until it is back", "err", err)
	}
}

// Back records an answer of the server.
func (s *State) Back() {
	s.mu.Lock()
	s.until = time.Time{}
	if s.offline {
		s.offline = false
		s.opts.Logger.Info("server reachable again")
	}
	s.mu.Unlock()
	if s.opts.OnBack != nil {
		s.opts.OnBack()
	}
}

// MayAsk reports whether content may be requested from the server now.
// While the server is known to be away it may not until the retry
// interval has passed; then the caller is the probe, and other callers
// are refused until the probe's answer (NoteAnswer) or another interval.
// When refused, until is the time of the next try.
func (s *State) MayAsk() (ok bool, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.offline {
		return true, time.Time{}
	}
	now := s.opts.Now()
	if now.Before(s.until) {
		return false, s.until
	}
	s.until = now.Add(s.opts.Interval)
	return true, time.Time{}
}

// NoteAnswer updates the state from the outcome of a request: any
// answer means the server is reachable; ErrUnavailable that it is not;
// a cancelled request says nothing.
func (s *State) NoteAnswer(err error) {
	switch {
	case err == nil:
		s.Back()
	case errors.Is(err, remote.ErrUnavailable):
		s.Away(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// no answer either way
	default:
		s.Back()
	}
}

// Offline reports whether the server was found unreachable and has not
// answered since.
func (s *State) Offline() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offline
}

// Holding reports whether the server is not to be asked for listings
// now (found unreachable less than an interval ago): stored listings
// are served as they are.
func (s *State) Holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Now().Before(s.until)
}
