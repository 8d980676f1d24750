// Package cache sits between the filesystem (fusefs) and the server
// (remote.Remote). It owns everything odfb keeps on local disk for a
// library:
//
//   - meta.db, a bbolt database with a schema version key. Buckets:
//     "meta" (schema version, library URL), "dirs" (one record per folder:
//     the folder's own entry, its children with size, mtime, ETag and type,
//     and the time the listing was fetched; a folder the server said does
//     not exist is kept as a negative record), "content" (one record per
//     cached file: ETag, size, the bitmap of blocks present, last use), and
//     "journal", reserved for the write side's upload journal.
//   - content/, the content cache: one sparse file per (path, ETag), filled
//     by ranged GETs in blocks of BlockSize, bounded by Options.CacheSize
//     with LRU eviction that never touches a file that is open. The write
//     side's staging/ and lost+found/ directories will sit beside it.
//
// Listings. A folder's listing is one remote.List (PROPFIND Depth 1) and
// serves every lookup and getattr of its children until DirCacheTime
// passes; a name absent from a fresh listing is answered "not found"
// without a request. Listings survive restarts: a listing stored by an
// earlier run is served at once and revalidated in the background. When
// the server is unreachable (remote.ErrUnavailable) stale listings and
// cached content are served, one warning is logged, and the server is
// tried again after min(DirCacheTime, 30s).
//
// Content. Reads go through a Handle. A read of a block that is not
// cached starts a ranged GET: one block for a random read, and on
// sequential reads a window that starts at one block (1 MiB) and doubles
// on each fetch up to MaxReadAhead (32 MiB); the next window is requested
// when the reader passes the middle of the previous one. Concurrent
// readers of a block share one GET. Data streams from the response to the
// sparse file in small buffers, so memory does not grow with file size
// (a bitmap of one bit per MiB is all that is held per open file). When a
// listing shows a new ETag for a file, its cached content is dropped (at
// last close if it is open).
//
// The cache only ever sees server names and library-relative paths;
// mapping names for the user is fusefs's job. It must not know about FUSE
// or HTTP: it talks to the server only through remote.Remote.
package cache
