package remote

import (
	"errors"
	"fmt"
	"time"
)

// The kinds of failure a Remote reports. Match them with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrNotDir       = errors.New("not a folder")
	ErrConflict     = errors.New("parent folder missing")                   // 409 on MKCOL/PUT/MOVE
	ErrPrecondition = errors.New("precondition failed")                     // 412
	ErrTooLarge     = errors.New("too large for the server")                // 413, REST message cap
	ErrAuth         = errors.New("not authenticated")                       // 401/403 auth after one refresh
	ErrForbidden    = errors.New("permission denied")                       // 403 that is not about auth
	ErrThrottled    = errors.New("throttled by the server")                 // 429/503 still failing after retries
	ErrInvalidName  = errors.New("name not allowed by the server")          // 400 + X-MSDAVEXT_Error on a name
	ErrLocked       = errors.New("locked")                                  // 423
	ErrServer       = errors.New("server error")                            // other 5xx, unparseable answers
	ErrUnavailable  = errors.New("server unreachable")                      // network errors after retries
	ErrNotSupported = errors.New("not supported by this server")            // e.g. no REST API
	ErrUploadGone   = errors.New("upload session gone; start over")         // REST upload session expired
	ErrOutsideRoot  = errors.New("server named a path outside the library") // href escaping the root
	ErrChangeToken  = errors.New("change token no longer valid")            // SPInvalidChangeTokenException
)

// Error is the error every Remote method returns.
type Error struct {
	Kind   error  // one of the Err* sentinels above
	Op     string // "PROPFIND", "PUT", "StartUpload", …
	Path   string // library-relative path the call was about
	Status int    // HTTP status, 0 when there was no response
	// RetryAfter is the wait the server asked for (throttling), 0 if none.
	RetryAfter time.Duration
	// Detail is the server's own explanation (X-MSDAVEXT_Error text, the
	// REST error message), never containing credentials.
	Detail string
	Err    error // underlying cause, may be nil
}

func (e *Error) Error() string {
	s := e.Op + " " + e.Path + ": " + e.Kind.Error()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrNotFound) and friends work.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }
