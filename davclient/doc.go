// Package davclient is odfb's client for a document library: WebDAV for
// every file operation, SharePoint's REST API for uploads in chunks and
// for the library's change log (changes.go: CurrentChangeToken,
// GetChanges paged by FetchLimit). It implements remote.Remote,
// remote.ChunkedUploader and remote.ChangeLog for SharePoint Online, for
// spemu, and for any ordinary WebDAV server (Apache mod_dav, Nextcloud;
// there ChangeLog answers ErrNotSupported).
//
// It owns HTTP: the pooled transport (HTTP/2 where offered, TLS
// verification always on, extra CAs from Options.CAFile), the
// User-Agent Microsoft asks for (NONISV|odfb|odfb/<version>, never a
// browser's), request encoding, the PROPFIND parser, the form digest, the
// retry and throttling rules and credential renewal around an
// auth.Authenticator. It must not know about FUSE, bbolt or the cache,
// and it never writes a credential to a log or an error.
//
// # Contract
//
// Paths are library-relative ("/dir/a b#%.txt"); the client percent-
// encodes each segment for WebDAV and uses the ResourcePath REST APIs
// (decodedurl='…', quotes doubled, then percent-encoded) so names with
// "#" and "%" work. Every error a method returns is a *remote.Error
// whose Kind is a remote sentinel (match with errors.Is); it is final:
// retries, waits and renewal already happened. A cancelled context makes
// a call return at once with Kind ErrUnavailable wrapping ctx.Err().
//
// Servers differ; the client absorbs it:
//   - PROPFIND answers are read as a token stream (multistatus.go:
//     encoding/xml raw tokens, one response in memory at a time, 1,024
//     levels at most, hrefs outside the library dropped as before);
//     etree builds request bodies and reads the small PROPPATCH answers.
//     The reader matches by namespace and takes SharePoint's Microsoft
//     properties and upper-case reason phrases, propstats without a status
//     (taken as 200), iscollection/isFolder 1/0/t/f/true/false when
//     resourcetype says nothing, RFC 1123 and its variants or RFC 3339
//     dates, absolute or relative hrefs, percent-encoded or raw UTF-8.
//     Win32LastModifiedTime, when the server stores one, is preferred over
//     getlastmodified for Entry.ModTime. An href that resolves to another
//     host or outside the library is dropped and logged, never followed.
//     A server's answer is not trusted further than that (entrycheck.go):
//     a listing with a size or date that is not one (negative, a word) is
//     refused (ErrServer) rather than shown with a size made up; an entry
//     named twice is kept once; a name with a control character, which no
//     SharePoint library holds, is dropped. A 206 whose Content-Range is
//     not the range asked for is ErrServer; a body cut short is an error
//     from the reader, never a short file.
//   - List uses Depth 1; SharePoint answers 404 to Depth 1 on a file, so a
//     404 is followed by a Depth 0 Stat to tell ErrNotFound from ErrNotDir.
//   - Get detects a server that ignores Range (200 instead of 206) and
//     skips and cuts the body itself; a range past the end is an empty read.
//   - Apache marks an ETag weak (W/"…") during the second after a change,
//     and a weak ETag never satisfies If-Match. For a weak IfMatch the
//     client compares the current ETag itself and then sends the strong
//     one, or none while the server still calls it weak (a window of that
//     one second in which a concurrent change could be overwritten).
//   - Apache sends no ETag on PUT: Put then returns "".
//   - A folder in the way of a PUT is ErrExists: SharePoint answers 405,
//     Apache 409 as for a missing parent, so after a 409 the client
//     looks (one PROPFIND) and tells the two apart.
//   - Apache answers a path below a file ("/f.txt/x") with a bare 400:
//     after a 400 without X-MSDAVEXT_Error, PROPFIND, PUT and MKCOL look
//     at the parent and report ErrNotDir when it is a file.
//   - Servers without SharePoint's REST API (contextinfo answers 404, 405,
//     501, or a 4xx without SharePoint's headers) are detected once; every
//     ChunkedUploader method then returns ErrNotSupported.
//
// # Retry rules
//
// One wrapper (retry.go) sends every request. Per attempt it takes a slot
// of the Limiter (one per server for the whole process, or Options.Limiter;
// released while waiting, held by a streaming GET until its body is
// closed), authorizes the request and rewinds the body (bodies are
// io.ReaderAt, re-read from 0; never buffered whole).
//   - 429 and 503 wait for Retry-After (seconds or a date; the larger of it
//     and RateLimit-Reset), logged, capped by MaxRetryWait; without the
//     header, exponential backoff. A throttled request was not carried out.
//     A 401 (or 403) whose body reads "429 TOO MANY REQUESTS", whose JSON
//     error code says throttled, or that carries Retry-After is the same
//     throttling (SharePoint Online has sent it; auth.ThrottledRefusal):
//     waited out, never a credential renewal, ErrThrottled when it lasts.
//   - A 500 whose REST error is SPQueryThrottledException (list view
//     threshold) is final at once (ErrForbidden): retrying cannot help.
//     StartUpload then creates a new file with a path-addressed PUT
//     instead of the folder's Files/AddUsingPath. A 500 whose error is
//     SPInvalidChangeTokenException (or -2130575173) is final at once too
//     (ErrChangeToken).
//     "Cannot find resource for the request <fn>" is ErrNotSupported.
//   - 500, 502, 504 and network errors back off exponentially (BackoffBase
//     doubling to BackoffMax, ±25% jitter). After MaxRetries the error is
//     final: ErrThrottled (with RetryAfter), ErrServer or ErrUnavailable.
//   - A 5xx or a network error after the request was sent makes the call
//     "ambiguous": the server may have acted. Verbs read the final answer
//     with that in mind:
//     GET, PROPFIND, PROPPATCH, PUT are idempotent and simply repeated
//     (a conditional PUT that gets 412 after a lost answer is reported as
//     ErrPrecondition with a note: the caller keeps both versions, nothing
//     is lost);
//     DELETE: 404 after an ambiguous attempt is success;
//     MKCOL: 405 after an ambiguous attempt is success when a Depth 0
//     PROPFIND finds a folder there (a file of that name is ErrExists);
//     MOVE/COPY: 404 or 412 after an ambiguous attempt makes the client
//     look (PROPFIND source and destination): a moved source and an
//     existing destination is success, anything else is the error;
//     ContinueUpload: the server checks offsets; a 4xx is resolved with
//     GetUploadStatus: when the server expects offset+n it already holds
//     this chunk (a lost answer, or a process that died before saving the
//     offset; one upload id names one content), which is success;
//     otherwise ErrUploadGone, and a session the server still holds open
//     is cancelled first (SharePoint locks the file for an open session,
//     which would refuse the caller's fresh start for up to 30 minutes);
//     StartUpload is idempotent for the same upload id (SharePoint's rule);
//     FinishUpload that fails with a 4xx is ErrUploadGone: the caller
//     starts over (the file was either committed or left as it was, never
//     truncated);
//     AddUsingPath (overwrite=false) answering "already exists" is fine.
//   - Authentication: a 401, a 403 with X-MSDAVEXT_Error 917656 or the
//     forms-auth headers, or a redirect to a sign-in page triggers one
//     Refresh of the Authenticator, shared by all concurrent requests
//     (singleflight with a generation counter: a request authorized
//     before a refresh completed just replays), and one replay. A second
//     refusal, or a failed Refresh, is ErrAuth; a failed Refresh is not
//     tried again for 5 s. Nothing loops: repeated password logins lock
//     accounts. The reason a refusal gives (x-ms-diagnostics, the body's
//     error_description) is logged and kept in the error's Detail.
//   - REST POSTs carry the form digest from /_api/contextinfo, cached until
//     a minute before FormDigestTimeoutSeconds ends and fetched again once
//     on SharePoint's 403 "security validation" (-2130575251) error.
//
// # Errors
//
// 404/410 ErrNotFound; MKCOL 405 ErrExists; 409 ErrConflict; 412
// ErrPrecondition; 413, 507 and the REST "request message is too big"
// ErrTooLarge (chunks over MaxRESTRequest are refused before sending);
// 423 ErrLocked; 400 with X-MSDAVEXT_Error ErrInvalidName; other 403
// ErrForbidden; exhausted 429/503 ErrThrottled; other statuses ErrServer;
// network failures ErrUnavailable; REST sessions that are gone
// ErrUploadGone. Detail holds the server's own text (X-MSDAVEXT_Error
// decoded, the REST message, a short text/plain body).
//
// # Chunked uploads
//
// StartUpload creates the file empty with AddUsingPath(overwrite=false)
// only when it does not exist; an existing file's session starts on it
// directly, so its content changes only at FinishUpload. The upload id is
// the caller's GUID: with it and the confirmed offset a restarted process
// resumes with ContinueUpload (Client.UploadOffset asks the server where a
// session stands); ErrUploadGone tells it to start over. The
// REST address is the site URL: the library URL without its last segment
// unless Options.WebURL says otherwise.
package davclient
