// Package listing holds the folder listings: one remote.List (PROPFIND
// Depth 1) per folder, stored in meta.db's "dirs" bucket and kept in
// memory while used, serving every lookup until --dir-cache-time passes.
// A listing stored by an earlier run serves at once and is revalidated
// in the background; a failed refresh (server away, throttled, 5xx,
// credentials refused) serves the stored one, held for the retry
// interval; a folder the server says is not there is a negative record;
// a folder gone from its parent's listing is forgotten with everything
// under it. Concurrent fetches of one folder share one request. A listing
// whose request raced a local change of the folder (an upload ending, a
// rename, a removal) is not installed over it: it is asked for again, up
// to three times, and then the local listing is kept (Fetch).
//
// It is a part of package cache (the dependency rule is in cache/
// doc.go): it imports remote and metadb only. What a new listing means
// for the rest of the cache (cached content to drop, mtimes to apply or
// forget) and the server's reachability come through Options. Pending
// files are not its business: the facade overlays them.
package listing
