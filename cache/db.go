package cache

import "github.com/odfb/odfb/cache/internal/metadb"

// SchemaVersion is the layout of meta.db this code reads and writes
// (cache/internal/metadb).
const SchemaVersion = metadb.SchemaVersion

// ErrSchema reports a meta.db written by a newer odfb.
var ErrSchema = metadb.ErrSchema

// JournalRecord is one pending upload as stored in meta.db's journal
// (cache/internal/metadb).
type JournalRecord = metadb.JournalRecord
