// Package blocks is the content cache: one sparse file per version of a
// file under <cache-dir>/content/, filled by ranged GETs in blocks of
// BlockSize with a bitmap of the blocks present (stored in meta.db's
// "content" bucket), read-ahead for sequential readers, LRU eviction
// within --cache-size that never touches an open file, reading past the
// cache when its disk is full, and adopting a file just uploaded as a
// fully cached version (Store.Adopt).
//
// It is a part of package cache (the dependency rule is in cache/
// doc.go): it imports remote and metadb only. What it needs of the cache
// comes through Options — the clock, the logger, the server's
// reachability (an interface the cache's reach.State satisfies), a
// listing invalidation, and the cache's error kinds for "not cached"
// and "changed while open" — so it knows nothing of listings or writes.
package blocks
