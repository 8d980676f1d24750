package cache

import "github.com/odfb/odfb/cache/internal/kinds"

// The cache's own answers (cache/internal/kinds has their meaning): a
// *Error whose Kind is one of these. They also match the remote kind
// they stand for: errors.Is(err, remote.ErrNotFound) holds whether the
// server said so or a listing did. fusefs's errno table (fusefs/
// errno.go) is the only place they become an errno.
var (
	ErrNotFound  = kinds.ErrNotFound
	ErrExists    = kinds.ErrExists
	ErrNotDir    = kinds.ErrNotDir
	ErrIsDir     = kinds.ErrIsDir
	ErrNotEmpty  = kinds.ErrNotEmpty
	ErrInvalid   = kinds.ErrInvalid
	ErrNotCached = kinds.ErrNotCached
	ErrChanged   = kinds.ErrChanged
	ErrTooLarge  = kinds.ErrTooLarge
	ErrNoWrites  = kinds.ErrNoWrites
)

// Error is an answer of the cache itself: Kind is one of the kinds
// above, Op what was asked ("lookup", "create", "read", …), Path the
// server path, Detail a human explanation.
type Error = kinds.Error
