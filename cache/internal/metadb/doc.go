// Package metadb is the layout of meta.db, the cache's bbolt database:
// the schema version and library check at Open, the bucket names, the
// records stored in them (DirRecord, ContentRecord, JournalRecord) and
// the small typed helpers that read and write them (GetJSON, PutJSON,
// Delete; LoadJournal, PutRecords, DeleteRecords for the upload journal).
//
// It is a part of package cache (see cache/doc.go for the dependency
// rule): it imports bbolt and remote (for remote.Entry in listings) and
// nothing of cache. Every write here is one bbolt transaction with its
// fsync; callers decide when and under which lock to write (the cache
// keeps commits off the locks lookups and reads wait on).
package metadb
