package kinds

import (
	"errors"
	"fmt"
	"testing"

	"github.com/odfb/odfb/remote"
)

// TestErrorKinds: the cache's own answers carry its kinds and still
// match the remote kinds they stand for (callers and the errno table may
// ask either), and a remote error is never taken for a cache kind.
func TestErrorKinds(t *testing.T) {
	for kind, rk := range sameAs {
		err := fmt.Errorf("wrapped: %w", &Error{Kind: kind, Op: "x", Path: "/p"})
		if !errors.Is(err, kind) || !errors.Is(err, rk) {
			t.Errorf("%v: Is(kind) %v, Is(%v) %v", kind, errors.Is(err, kind), rk, errors.Is(err, rk))
		}
		if errors.Is(&remote.Error{Kind: rk}, kind) {
			t.Errorf("remote %v matches cache kind %v", rk, kind)
		}
	}
	if errors.Is(&Error{Kind: ErrIsDir}, remote.ErrNotSupported) || errors.Is(&Error{Kind: ErrNoWrites}, remote.ErrNotFound) {
		t.Error("a kind without a remote counterpart matches one")
	}
}
