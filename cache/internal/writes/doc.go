// Package writes is the cache's write side: staging files, the upload
// journal's commits, the upload scheduler, PUT and chunked upload
// sessions (with resume from the last confirmed chunk), conflict copies,
// lost+found, and the pending state machine every file with local
// changes goes through (pending_state.go).
//
// It reaches the rest of the cache — listings and the content store —
// only through Host (host.go), which the cache facade implements, and
// meta.db through cache/internal/metadb. The facade reads the pending
// files back (PendingEntry, PendingIn, RecentEntry in view.go) to lay
// them over listings in one place. The order in which locks may be
// taken, across all of the cache's parts, is at the top of staging.go.
// docs/writes.md describes the behaviour for users.
package writes
