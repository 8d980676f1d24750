// Package remotetest provides Fake, an in-memory remote.Remote and
// remote.ChunkedUploader for tests of the packages above the remote
// contract (cache, fusefs, the uploader).
//
// Fake keeps files and folders in a map keyed by case-folded path (the
// server is case-insensitive and case-preserving), counts calls per
// method, records every Get's range, and can be told to fail any method
// with a given error (remote.ErrUnavailable to play "server away").
// Chunked upload sessions are kept apart from the file until
// FinishUpload, as SharePoint's are; SetChunked(false) makes them answer
// ErrNotSupported like a plain WebDAV server, and ExpireUploads plays the
// server forgetting them. ReadFile is the server side a test checks.
// It is safe for concurrent use. It does not emulate HTTP: for that, use
// spemu.
//
// Fake passes the remote contract (remotetest/contract), both with and
// without chunked uploads; a change to Fake keeps it so.
package remotetest
