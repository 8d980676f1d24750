package kinds

import (
	"errors"
	"strings"

	"github.com/odfb/odfb/remote"
)

// Kinds of the answers the cache gives itself, without asking the server
// (a listing that does not name a file, a pending file in the way, a
// read of content that is not cached while the server is away, …).
// They come as a *Error; what the server answered comes through as the
// server's *remote.Error, unchanged. fusefs's errno table (fusefs/
// errno.go) is the only place either becomes an errno.
//
// A kind that means what a remote kind means also matches that kind
// (Error.Is): errors.Is(err, remote.ErrNotFound) holds whether the server
// said so or the listing did, so callers that only care about "not
// found" need not ask who decided.
var (
	// ErrNotFound: the name is not in a fresh listing (or not pending).
	ErrNotFound = errors.New("not found")
	// ErrExists: the name is taken (on the server as listed, or by a
	// pending file).
	ErrExists = errors.New("already exists")
	// ErrNotDir: a folder was expected.
	ErrNotDir = errors.New("not a folder")
	// ErrIsDir: a file was expected (open of a folder).
	ErrIsDir = errors.New("is a folder")
	// ErrNotEmpty: a folder to remove or replace has entries.
	ErrNotEmpty = errors.New("folder not empty")
	// ErrInvalid: an operation that cannot be (a folder moved into
	// itself).
	ErrInvalid = errors.New("invalid argument")
	// ErrNotCached: the content is not cached and the server was found
	// unreachable moments ago, so no request is made.
	ErrNotCached = errors.New("not cached and the server is unreachable")
	// ErrChanged: the version being read was replaced on the server
	// while the file was open.
	ErrChanged = errors.New("changed on the server while open")
	// ErrTooLarge: the file cannot be sent to this server (over the PUT
	// limit, and the server has no chunked upload).
	ErrTooLarge = errors.New("too large for this server")
	// ErrNoWrites is returned by write operations of a cache without a
	// write side (StartWrites not called): the mount is read-only.
	ErrNoWrites = errors.New("read-only: writes are not enabled")
)

// sameAs is the remote kind each cache kind also matches.
var sameAs = map[error]error{
	ErrNotFound:  remote.ErrNotFound,
	ErrExists:    remote.ErrExists,
	ErrNotDir:    remote.ErrNotDir,
	ErrNotCached: remote.ErrUnavailable,
	ErrChanged:   remote.ErrPrecondition,
	ErrTooLarge:  remote.ErrTooLarge,
}

// Error is an answer of the cache itself: Kind is one of the kinds
// above, Op what was asked ("lookup", "create", "read", …), Path the
// server path, Detail a human explanation.
type Error struct {
	Kind   error
	Op     string
	Path   string
	Detail string
	Err    error // an underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Path != "" {
		b.WriteString(" " + e.Path)
	}
	b.WriteString(": " + e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(" (" + e.Detail + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Is matches the kind and the remote kind it stands for.
func (e *Error) Is(target error) bool {
	return target == e.Kind || (target != nil && sameAs[e.Kind] == target)
}

func (e *Error) Unwrap() error { return e.Err }
