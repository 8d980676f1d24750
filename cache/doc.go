// Package cache sits between the filesystem (fusefs) and the server
// (remote.Remote). It owns everything odfb keeps on local disk for a
// library:
//
//   - meta.db, a bbolt database (layout: cache/internal/metadb). Buckets:
//     "meta" (schema version, library URL), "dirs" (one record per folder:
//     the folder's own entry, its children with size, mtime, ETag and type,
//     and the time the listing was fetched; a folder the server said does
//     not exist is kept as a negative record), "content" (one record per
//     cached file: ETag, size, the bitmap of blocks present and the block
//     size it counts in, last use; a record of another block size is
//     dropped with its file at open), and
//     "journal" (one JournalRecord per pending upload), "mtimes" (the
//     mtime of versions uploaded from here, mtime.go).
//   - content/, the content cache: one sparse file per (path, ETag), filled
//     by ranged GETs in blocks of BlockSize, bounded by Options.CacheSize
//     with LRU eviction that never touches a file that is open.
//   - staging/ (one 0600 file per pending upload, named by a random id)
//     and lost+found/ (uploads the server refused for good, with a
//     .reason file each).
//
// Listings (cache/internal/listing; the facade's reads in overlay.go). A
// folder's listing is one remote.List (PROPFIND Depth 1) and
// serves every lookup and getattr of its children until DirCacheTime
// passes; a name absent from a fresh listing is answered "not found"
// without a request. Listings survive restarts: a listing stored by an
// earlier run is served at once and revalidated in the background. When
// the server is unreachable (remote.ErrUnavailable) stale listings and
// cached content are served, one warning is logged, and the server is
// tried again after min(DirCacheTime, 30s).
//
// Change log (cache/internal/listing/changes.go). When the remote is a
// remote.ChangeLog (SharePoint), a change token is taken before the first
// listing and stored in meta.db's "meta" bucket ("changelog": token, the
// time the chain began, the last confirmation); a listing fetched after
// it is covered. When a covered listing passes DirCacheTime, and every
// Options.PollInterval, one Changes call for the whole library marks the
// folders its changes touched (the parent of each change's path, and the
// old parent of an item found by its ETag GUID in the stored listings;
// a folder deleted, renamed or moved away is forgotten with everything
// under it) and confirms every other covered listing with no request.
// An expired token, too many changes or a change that cannot be placed
// start a new chain (older listings fall back to per-folder
// revalidation); no log (ErrNotSupported) turns it off for the run.
// Listings are written to meta.db in batches (listing/commit.go), not one
// synced commit per folder; the change token is written in the same
// transaction as the listings it covers. A lookup's listing queues its
// subfolders to be listed ahead by up to Options.ListAhead workers
// (listing/ahead.go), within a budget, dropped when nobody walks.
//
// While the server is away, a read of content
// that is not cached fails at once (ErrNotCached, which matches
// remote.ErrUnavailable too) without a request; after the interval one
// read probes the server, and any answer to a GET brings it back.
//
// Content (cache/internal/blocks). Reads go through a Handle. A read of a
// block that is not cached starts a ranged GET: one block (BlockSize, 256
// KiB) for a random read, and on sequential reads a window that starts at
// FirstReadAhead (1 MiB) and doubles on each fetch up to MaxReadAhead (32
// MiB). A window goes out as up to Options.MaxConcurrent ranged GETs
// (pieces of at least 1 MiB) sent at once, each streamed into its place
// in the cached file; the next window is requested as soon as the reader
// is inside the previous one, so one is always on its way. Pieces that
// end together share one fsync before their bitmap is committed.
// Concurrent readers of a block share one GET. Data
// streams from the response to the sparse file in small buffers, so memory
// does not grow with file size (a bitmap of one bit per 256 KiB block is
// all that is held per open file: 4 KiB per GiB). Handle.Complete hands the
// cached file of a version with every block present to fusefs, which
// lets the kernel read it (FUSE passthrough). When a listing shows a
// new ETag for a file, its cached content is dropped (at last close if it
// is open).
//
// A full cache disk (ENOSPC, EDQUOT while storing a download) first
// evicts least recently used content that is not open, whatever
// CacheSize says, and writes again. When nothing is left to evict, the
// file is read past the cache for as long as it stays open: each read
// is one ranged GET of what was asked, straight into the caller's
// buffer, and one warning names the file. Failures of the local disk
// are *DiskError (their errno reaches the application), never a
// remote.ErrServer.
//
// Writes (StartWrites enables them; see docs/writes.md). Every write goes
// to a staging file (cache/internal/writes/staging.go); Flush/Fsync fsync it and commit a
// JournalRecord before returning. The uploader (writes/upload.go) sends a file
// WriteBack after its last close: one PUT with If-Match/If-None-Match up
// to PutLimit, the REST upload session above it with the session id and
// confirmed offset saved after every chunk. A 412 keeps both versions
// (writes/conflict.go); a permanent refusal moves the staged file to lost+found
// (writes/lostfound.go; a file still open is copied, and its later writes follow
// the copy until the last close, whose flush reports the refusal); every
// other failure is retried with backoff, never
// dropped. Renames and removals of pending files adjust the journal
// (writes/staging_ops.go); listings show pending files with their staged size.
// A staging file whose upload is confirmed with a known ETag, and that
// did not change meanwhile, becomes that version's fully cached content
// (blocks.Store.Adopt) instead of being deleted: reading back what was
// just written costs no GET.
// Sync, Status and CloseWrites (drain at exit) are in writes/upload_control.go;
// the facade (writes.go) hands each call to the part.
// An upload never runs on a FUSE request's context.
//
// Pending files (writes/pending_state.go). A file with local changes is a
// pending with one of six named states — local, queued, uploading,
// uploaded, removed, lost — changed only by writer.moveLocked, whose
// table lists every transition; the comment there says what a crash
// during each one leaves and what the next start makes of it. Whether a
// version is on the server is decided in one place (uploadedLocked), for
// Sync and --sync-upload flushes alike; every wait for an upload goes
// through Writer.waitLocked. The write side is a field of Cache (set by
// StartWrites), not a process-wide map.
//
// Locks. The order in which the cache's locks may be taken is listed
// at the top of cache/internal/writes/staging.go, with what is still done under writer.mu;
// every other file that takes more than one lock says which at its top.
// Methods named ...Locked are called with their receiver's lock held.
//
// Errors (errors.go, kinds defined in cache/internal/kinds so that
// every part answers with them). The cache's own answers — a name absent from a
// fresh listing, a name taken by a pending file, content not cached
// while the server is away, a version replaced while open, a read-only
// cache — are *Error with a kind of this package (ErrNotFound,
// ErrExists, ErrNotDir, ErrIsDir, ErrNotEmpty, ErrInvalid, ErrNotCached,
// ErrChanged, ErrTooLarge, ErrNoWrites); a kind that means what a remote
// kind means also matches it with errors.Is. The server's answers pass
// through as *remote.Error.
// Nothing here produces an errno: fusefs/errno.go maps all of them.
//
// Parts and the dependency rule (issue 10, item 1). Package cache is
// the only package fusefs and cmd import; it composes parts under
// cache/internal/:
//
//   - metadb: meta.db's schema version, buckets, records (DirRecord,
//     ContentRecord, JournalRecord) and typed get/put/delete.
//   - reach: is the server there (away, back, may a request be made),
//     with a callback when it answers again.
//   - listing: folder listings — fetch, store, revalidate (in the
//     background for one stored by an earlier run), serve stale (held
//     after a failed refresh), forget a subtree.
//   - blocks: the content store — sparse files, block bitmap, read-ahead
//     (Handle.ReadAt, advance), LRU, full-disk fallback, adopting an
//     uploaded file; what it needs of the cache comes through its
//     Options.
//   - writes: staging, the journal commit, the upload scheduler, PUT and
//     chunked sessions (resume: upload.go resumeOffset), conflicts
//     (conflict.go), lost+found (lostfound.go), the pending state
//     machine (pending_state.go). It reaches listings and content only
//     through its Host interface (host.go), which the facade implements
//     (writes.go).
//   - kinds: the cache's own error kinds and *Error.
//   - metadb also keeps the mtimes of versions uploaded from here
//     (metadb/mtime.go), which listings apply and the write side records.
//
// Rule: a part imports remote, internal/names, internal/diskio (shared
// disk helpers), metadb and kinds at most; never cache, never another
// part. The facade (this package) composes them and is the one place
// where pending files are overlaid onto listings (overlay.go: withPending,
// pendingEntry, pendingIn read what writes.Writer reports).
// TestPartsDependencyRule (deps_test.go) fails on an import that breaks
// the rule.
//
// Where to look: chunk resume — writes/upload.go (session, resumeOffset);
// conflict copy — writes/conflict.go; listing revalidation —
// listing/listing.go; block read-ahead — blocks/blocks.go (advance);
// lost+found — writes/lostfound.go.
//
// The cache only ever sees server names and library-relative paths;
// mapping names for the user is fusefs's job. It must not know about FUSE
// or HTTP: it talks to the server only through remote.Remote.
package cache
