package remote

import (
	"context"
	"io"
	"time"
)

// Entry is what the server says about one file or folder.
type Entry struct {
	// Path is library-relative, decoded, "/"-separated and starts with "/".
	// The library root is "/". Folders carry no trailing slash.
	Path string
	// IsDir is true for folders (resourcetype collection, or iscollection 1/true).
	IsDir bool
	// Size in bytes; 0 for folders.
	Size int64
	// ModTime is the time applications see: Win32LastModifiedTime when the
	// server stores one (set with SetModTime), else ServerModTime.
	ModTime time.Time
	// ServerModTime is getlastmodified: when the server last changed the item.
	ServerModTime time.Time
	// Created is creationdate, zero when the server did not send it.
	Created time.Time
	// ETag is the opaque entity tag as sent, quotes included ("{GUID},N").
	// Empty when the server sent none.
	ETag string
	// Hidden is the server's ishidden / Win32 hidden attribute.
	Hidden bool
}

// Name returns the last element of e.Path ("" for the root).
func (e Entry) Name() string { return Base(e.Path) }

// Quota is the space a library reports. Known is false when the server
// does not report quota.
type Quota struct {
	Known     bool
	Used      int64
	Available int64
}

// PutOptions are the preconditions of an upload.
type PutOptions struct {
	// IfMatch, when not empty, makes the upload fail with ErrPrecondition
	// unless the file's current ETag equals it.
	IfMatch string
	// IfNoneMatch makes the upload fail with ErrPrecondition (or ErrExists)
	// when the file already exists ("If-None-Match: *").
	IfNoneMatch bool
}

// ObjectInfo describes the content returned by Get.
type ObjectInfo struct {
	ETag string
	// Size is the whole file's size (not the length of the range), -1 when
	// the server did not say.
	Size int64
}

// Remote is the server odfb stores a library on. davclient implements it
// for SharePoint Online and plain WebDAV; tests may implement it in memory.
//
// All paths follow Entry.Path. Every method is safe for concurrent use.
// Retries, throttling waits and credential renewal happen inside the
// implementation: an error returned here is final for this call, and is a
// *Error whose Kind is one of the sentinel errors of this package, so
// callers branch with errors.Is and never on message text. Where two
// kinds are named below, either may come; callers accept both.
//
// Names: any name the server accepts travels unchanged (spaces, non-ASCII,
// "#", "%", a literal "%20", "[ ]", quotes). On SharePoint (and the Fake)
// names are case-insensitive and case-preserving: a path in any case
// finds the item, Entry.Path carries the stored spelling, a Put in
// another case replaces the file and keeps its name, and a Move to
// another spelling of the same name renames it. A plain WebDAV server on
// a POSIX disk may be case-sensitive.
//
// The conformance suite remote/remotetest/contract checks all of this;
// every implementation runs it.
type Remote interface {
	// Stat returns one entry. ErrNotFound when it does not exist (or
	// ErrNotDir when an element of the path is a file). Idempotent.
	Stat(ctx context.Context, path string) (Entry, error)

	// List returns the folder itself and its children, in one round trip
	// (PROPFIND Depth 1): direct children only, in no particular order,
	// each as Stat would return it. ErrNotFound when the folder does not
	// exist, ErrNotDir when path is a file. Idempotent.
	List(ctx context.Context, dir string) (self Entry, children []Entry, err error)

	// Get streams length bytes of a file starting at offset; length < 0
	// means to the end. The body yields exactly the bytes asked for (or
	// fewer at end of file) even when the server ignores Range; an offset
	// at or past the end, or length 0, is an empty body, not an error.
	// info.Size is the whole file's. ErrNotFound when there is no file.
	// The caller closes body. Idempotent.
	Get(ctx context.Context, path string, offset, length int64) (body io.ReadCloser, info ObjectInfo, err error)

	// Put replaces or creates a file with size bytes read from body, in one
	// request, streamed (never held in memory). body is read from offset 0
	// again when the request must be retried. Returns the new ETag (empty
	// when the server sent none). A failed Put never deletes or truncates
	// the file that was there. ErrTooLarge when the server refuses the
	// size; ErrPrecondition when opts do not hold (and nothing changes);
	// ErrConflict when the parent folder is missing (or ErrNotDir when it
	// is a file); ErrExists when a folder has the name. A file replaced
	// by a shorter one keeps no tail of the old content.
	Put(ctx context.Context, path string, body io.ReaderAt, size int64, opts PutOptions) (etag string, err error)

	// Mkdir creates one folder. ErrExists when a file or a folder is
	// there (its content untouched), ErrConflict when the parent is
	// missing (or ErrNotDir when it is a file).
	Mkdir(ctx context.Context, path string) error

	// Delete removes a file or a folder with everything in it.
	// ErrNotFound when it is not there. The library root is never
	// deleted.
	Delete(ctx context.Context, path string) error

	// Move renames src to dst, within a folder or across folders; a
	// folder moves with its content, and the item keeps its ModTime. With
	// overwrite false, ErrPrecondition (or ErrExists) when dst exists, and
	// nothing changes; with overwrite true, dst is replaced whole (a
	// folder is not merged). ErrNotFound when src is missing, ErrConflict
	// when dst's parent is; a folder moved into itself fails
	// (ErrForbidden or ErrConflict) and changes nothing.
	Move(ctx context.Context, src, dst string, overwrite bool) error

	// Copy copies src to dst, like Move, and src stays; the copy is an
	// item of its own (writing one does not change the other).
	Copy(ctx context.Context, src, dst string, overwrite bool) error

	// SetModTime stores the time applications see as the file's mtime
	// (PROPPATCH Win32LastModifiedTime), read back by Stat and List as
	// Entry.ModTime, to the second; ServerModTime keeps the server's own
	// time. ErrNotFound when there is no such item. Idempotent.
	SetModTime(ctx context.Context, path string, t time.Time) error

	// Quota reports space. Quota.Known is false when the server gives
	// none, and Used and Available are then 0.
	Quota(ctx context.Context) (Quota, error)
}

// ChunkedUploader is implemented by remotes that can take a file in
// several requests (SharePoint's REST StartUpload / ContinueUpload /
// FinishUpload). A remote whose server has no such API returns
// ErrNotSupported from every method.
//
// A session is named by an upload id (a GUID the caller makes and keeps,
// so that a restarted process can resume) and by the confirmed offset:
// the number of bytes the server has acknowledged. Chunks are strictly
// sequential. The file's visible content does not change until
// FinishUpload returns: an upload that is never finished leaves an
// existing file as it was (a new file exists, empty).
//
// An implementation may also answer UploadOffset(ctx, path, uploadID)
// (int64, error): where a session stands, ErrUploadGone when the server
// does not know it. The cache asks it before resuming when present.
type ChunkedUploader interface {
	// StartUpload begins a session for path (creating an empty file first
	// when none exists) and sends the first chunk. Returns the confirmed
	// offset (n on success). ErrConflict when the parent folder is
	// missing.
	StartUpload(ctx context.Context, path, uploadID string, chunk io.ReaderAt, n int64) (offset int64, err error)

	// ContinueUpload sends the chunk that starts at offset and returns the
	// new confirmed offset. ErrUploadGone when the server no longer knows
	// the session (expired, cancelled, or the offset no longer matches):
	// the caller must start over with a new id. A chunk that ends at the
	// confirmed offset is the last one sent again (its answer was lost):
	// it is accepted and the confirmed offset returned. Any other wrong
	// offset is refused, not applied, and ends the session: every later
	// call with that id is ErrUploadGone too.
	ContinueUpload(ctx context.Context, path, uploadID string, offset int64, chunk io.ReaderAt, n int64) (int64, error)

	// FinishUpload sends the last chunk (n may be 0) and commits the file.
	// Returns the new ETag, the one Stat then reports. ErrUploadGone as
	// for ContinueUpload, and the file is left as it was.
	FinishUpload(ctx context.Context, path, uploadID string, offset int64, chunk io.ReaderAt, n int64) (etag string, err error)

	// CancelUpload abandons a session: the file stays as it was, later
	// calls with the id are ErrUploadGone, and the file can be written at
	// once. Cancelling an unknown or cancelled session is not an error.
	CancelUpload(ctx context.Context, path, uploadID string) error
}

// ChangeType is what a change-log entry did to its item.
type ChangeType int

// The change types, with SharePoint's SP.ChangeType numbers.
const (
	ChangeAdd      ChangeType = 1
	ChangeUpdate   ChangeType = 2
	ChangeDelete   ChangeType = 3
	ChangeRename   ChangeType = 4
	ChangeMoveAway ChangeType = 5
	ChangeMoveInto ChangeType = 6
	ChangeRestore  ChangeType = 7
)

// Change is one entry of a library's change log.
type Change struct {
	Type ChangeType
	// Path is the item's library path after the change, "" when the
	// server did not say (SharePoint names no path for a deletion).
	Path string
	// ID is the item's unique id, a lower-case GUID without braces: on
	// SharePoint the GUID of its ETag ("{GUID},N"). "" when not given.
	ID    string
	IsDir bool
	// Outside is set when the item is now outside the mounted folder (a
	// library mounted below its root sees the whole list's log); Path is
	// then "".
	Outside bool
}

// ChangeLog is implemented by remotes whose server keeps a change log of
// the library (SharePoint's GetChanges). A remote may implement it and
// still answer ErrNotSupported when its server turns out not to have it.
type ChangeLog interface {
	// ChangeToken returns the token of the log's present end: changes
	// made after it is taken come back from Changes(token).
	ChangeToken(ctx context.Context) (string, error)
	// Changes returns the changes after token, oldest first, and the
	// token to ask from next time. more is true when the log holds more
	// than one call fetches (the caller may ask again from next, or
	// give up on the log). ErrChangeToken when the server no longer
	// knows token (the log's retention passed, or it is another list's);
	// ErrNotSupported when the server has no change log or answered
	// something not understood.
	Changes(ctx context.Context, token string) (changes []Change, next string, more bool, err error)
}
