package fusefs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/names"
	"github.com/odfb/odfb/remote"
)

func cacheErr(kind error) error {
	return fmt.Errorf("ctx: %w", &cache.Error{Kind: kind, Op: "X", Path: "/p"})
}

func TestToErrno(t *testing.T) {
	wrap := func(kind error) error { return fmt.Errorf("ctx: %w", &remote.Error{Kind: kind, Op: "X", Path: "/p"}) }
	for _, c := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{wrap(remote.ErrNotFound), syscall.ENOENT},
		{wrap(remote.ErrExists), syscall.EEXIST},
		{wrap(remote.ErrNotDir), syscall.ENOTDIR},
		{wrap(remote.ErrConflict), syscall.ENOENT},
		{wrap(remote.ErrPrecondition), syscall.ESTALE},
		{wrap(remote.ErrTooLarge), syscall.EFBIG},
		{wrap(remote.ErrAuth), syscall.EACCES},
		{wrap(remote.ErrForbidden), syscall.EACCES},
		{wrap(remote.ErrInvalidName), syscall.EINVAL},
		{wrap(remote.ErrLocked), syscall.EBUSY},
		{wrap(remote.ErrNotSupported), syscall.EOPNOTSUPP},
		{wrap(remote.ErrUnavailable), syscall.EIO},
		{wrap(remote.ErrThrottled), syscall.EIO},
		{wrap(remote.ErrServer), syscall.EIO},
		{names.ErrReserved, syscall.EINVAL},
		{names.ErrTooLong, syscall.ENAMETOOLONG},
		{names.ErrNameTooLong, syscall.ENAMETOOLONG},
		{context.Canceled, syscall.EINTR},
		{syscall.EROFS, syscall.EROFS},
		{fmt.Errorf("local: %w", syscall.ENOSPC), syscall.ENOSPC},
		{&remote.Error{Kind: remote.ErrUnavailable, Op: "GET", Err: syscall.ECONNREFUSED}, syscall.EIO},
		{errors.New("something else"), syscall.EIO},
		// The cache's own kinds.
		{cacheErr(cache.ErrNoWrites), syscall.EROFS},
		{cacheErr(cache.ErrNotFound), syscall.ENOENT},
		{cacheErr(cache.ErrExists), syscall.EEXIST},
		{cacheErr(cache.ErrNotDir), syscall.ENOTDIR},
		{cacheErr(cache.ErrIsDir), syscall.EISDIR},
		{cacheErr(cache.ErrNotEmpty), syscall.ENOTEMPTY},
		{cacheErr(cache.ErrInvalid), syscall.EINVAL},
		{cacheErr(cache.ErrChanged), syscall.ESTALE},
		{cacheErr(cache.ErrTooLarge), syscall.EFBIG},
		{cacheErr(cache.ErrNotCached), syscall.EIO},
		{cache.ErrNoWrites, syscall.EROFS},
		// A refusal kept in lost+found: the server's kind decides.
		{&cache.LostError{Path: "/p", File: "/lf/p", Err: &remote.Error{Kind: remote.ErrInvalidName}}, syscall.EINVAL},
		{&cache.LostError{Path: "/p", File: "/lf/p", Err: cacheErr(cache.ErrTooLarge)}, syscall.EFBIG},
		// The local disk's errno reaches the application.
		{&cache.DiskError{Op: "content cache write", Path: "/p", Err: syscall.ENOSPC}, syscall.ENOSPC},
	} {
		if got := toErrno(c.err); got != c.want {
			t.Errorf("toErrno(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
