// Package contract is the conformance suite of remote.Remote and
// remote.ChunkedUploader: one set of tests that every implementation
// runs, the way restic's backend tests and rclone's fstests hold every
// backend to one contract. A new implementation runs Run, not new ad-hoc
// tests of the interface.
//
// Run takes a factory that starts a fresh, empty server and connects
// clients to it, plus what the implementation says about itself
// (Options: chunked uploads, case-insensitive names, ETags on PUT). A
// missing feature is never skipped silently: the suite then checks the
// documented fallback instead (ErrNotSupported from every
// ChunkedUploader method and nothing written; a case-sensitive server
// keeps "a.txt" and "A.txt" apart). A case an implementation is known to
// fail is left out only through Options.KnownFailures, with its reason,
// which the test log shows.
//
// Every case works in a folder of its own on the one server Run starts
// (so a slow server such as Apache is started once), and checks what
// reached the server's storage through Server.ReadFile, not only what the
// client reads back. Server.ExpireUploads plays the server forgetting
// upload sessions; Server.Connect gives a second client for resuming one.
//
// The cases, by group: Read (Stat and List of files and folders, errors,
// ranged Get), Put (overwrite, empty, If-None-Match, If-Match, missing
// parent, below a file, onto a folder), Mkdir, Delete (folders with
// content), Move and Copy (in a folder, across folders, onto existing
// files and folders, folders with content, into itself), ModTime, Names
// (spaces, unicode, "#", "%", "%20", brackets, quotes), Case (lookups,
// folders, case-only rename), Misc (quota, concurrent use) and Chunked
// (new and existing files, resume from the confirmed offset through a
// second client, the last chunk sent again, wrong offsets, expiry,
// cancel, missing parent).
//
// It lives under remotetest because it is test-only code (it imports
// testing and must never be linked into odfb); it must not import
// remotetest itself, whose own tests run it against the Fake. It imports
// nothing from the project but remote.
//
// The interface has no change feed, so neither has the suite; the day
// Remote gains one, its cases go here.
package contract
