package fusefs

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/names"
	"github.com/odfb/odfb/remote"
)

// toErrno is the one place where a domain error becomes an errno: the
// cache's own kinds (cache.Err…), the server's (remote.Err…, passed
// through the cache unchanged), names' refusals and a local disk's errno
// (cache.DiskError). EIO is the default: an unknown error must never
// reach the application as ENOTSUP (what fs.ToErrno would make of it).
func toErrno(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, cache.ErrNoWrites):
		return syscall.EROFS
	case errors.Is(err, cache.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, cache.ErrExists):
		return syscall.EEXIST
	case errors.Is(err, cache.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, cache.ErrIsDir):
		return syscall.EISDIR
	case errors.Is(err, cache.ErrNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, cache.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, cache.ErrChanged):
		return syscall.ESTALE // reopen to read the new version
	case errors.Is(err, cache.ErrTooLarge):
		return syscall.EFBIG
	case errors.Is(err, cache.ErrNotCached):
		return syscall.EIO // not cached, server away: as ErrUnavailable
	case errors.Is(err, remote.ErrNotFound):
		return syscall.ENOENT
	case errors.Is(err, remote.ErrExists):
		return syscall.EEXIST
	case errors.Is(err, remote.ErrNotDir):
		return syscall.ENOTDIR
	case errors.Is(err, remote.ErrConflict):
		return syscall.ENOENT // the parent folder is gone
	case errors.Is(err, remote.ErrPrecondition):
		return syscall.ESTALE // changed on the server while open
	case errors.Is(err, remote.ErrTooLarge):
		return syscall.EFBIG
	case errors.Is(err, remote.ErrAuth), errors.Is(err, remote.ErrForbidden):
		return syscall.EACCES
	case errors.Is(err, remote.ErrInvalidName), errors.Is(err, names.ErrReserved):
		return syscall.EINVAL
	case errors.Is(err, names.ErrTooLong), errors.Is(err, names.ErrNameTooLong):
		return syscall.ENAMETOOLONG
	case errors.Is(err, remote.ErrLocked):
		return syscall.EBUSY // checked out or locked by someone else
	case errors.Is(err, remote.ErrNotSupported):
		return syscall.EOPNOTSUPP // deliberate: the server lacks the feature
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case errors.Is(err, os.ErrClosed):
		return syscall.EBADF
	case errors.As(err, &errno) && !isRemote(err):
		// A local errno (the content cache's disk, EROFS from this
		// package). A network errno inside a remote error is not the
		// application's business: that is EIO below.
		return errno
	default:
		// ErrUnavailable (nothing cached to serve), ErrThrottled,
		// ErrServer, ErrUploadGone, ErrOutsideRoot, local I/O errors.
		return syscall.EIO
	}
}

func isRemote(err error) bool {
	var re *remote.Error
	return errors.As(err, &re)
}
