package cache

import (
	"context"

	"github.com/odfb/odfb/cache/internal/blocks"
)

// The content cache is cache/internal/blocks; these are its names in
// the cache's API.
const (
	BlockSize      = blocks.BlockSize
	FirstReadAhead = blocks.FirstReadAhead
	MaxReadAhead   = blocks.MaxReadAhead
)

// Handle is an open file's view of the content cache (blocks.Handle).
type Handle = blocks.Handle

// DiskError is a failure of the local disk that holds the cache
// directory (blocks.DiskError): its errno reaches the application.
type DiskError = blocks.DiskError

// Open returns a handle on the content of the file at p (its entry comes
// from the listing, fetched if needed). Nothing is downloaded until read.
func (c *Cache) Open(ctx context.Context, p string) (*Handle, error) {
	e, err := c.Stat(ctx, p)
	if err != nil {
		return nil, err
	}
	if e.IsDir {
		return nil, &Error{Kind: ErrIsDir, Op: "open", Path: p}
	}
	return c.content.OpenEntry(e)
}

// ContentUsed returns the bytes the content cache holds.
func (c *Cache) ContentUsed() int64 {
	return c.content.Used()
}
