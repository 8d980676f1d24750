// Package diskio holds the small local-disk helpers that the cache's
// parts share (they may not import each other): making a directory's
// entries durable (SyncDir), copying a file to a new one (CopyFile).
package diskio
