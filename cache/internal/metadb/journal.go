package metadb

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// JournalRecord is one pending upload as stored in meta.db's "journal"
// bucket, keyed by ID. It is written (after the staging file is fsynced)
// before close() or fsync() returns, updated after every confirmed chunk
// of a chunked upload, and deleted once the file is on the server (or in
// lost+found).
type JournalRecord struct {
	// ID names the staging file (<cache-dir>/staging/<ID>); a rename
	// changes Path only.
	ID string `json:"id"`
	// Path is the server path the file goes to.
	Path string `json:"path"`
	// Size of the staged content when the record was written.
	Size int64 `json:"size"`
	// New is true for a file that did not exist on the server when the
	// edit began: it is sent with If-None-Match: *.
	New bool `json:"new,omitempty"`
	// BaseETag is the ETag the edit began from (If-Match); empty with
	// New false means "overwrite unconditionally" (after a rename onto a
	// file whose version was not known).
	BaseETag string `json:"base_etag,omitempty"`
	// ModTime is the mtime an application set explicitly (utimens); it
	// is written to the server after the content.
	ModTime    time.Time `json:"mtime,omitempty"`
	ModTimeSet bool      `json:"mtime_set,omitempty"`
	// Abandoned is an upload session this file gave up (its content
	// changed, it was renamed or removed) whose CancelUpload the server
	// has not confirmed: SharePoint keeps the file locked (423) for an
	// open session, so it is cancelled before anything else is sent.
	Abandoned string `json:"abandoned,omitempty"`
	// Placeholder: a new file's abandoned session may have left the empty
	// file StartUpload creates; it is removed (if still empty) before the
	// file is sent again, renamed or dropped.
	Placeholder bool `json:"placeholder,omitempty"`
	// Written is the mtime applications saw for the staged content (its
	// last write); the uploaded version keeps showing it (cache/mtime.go).
	// Zero in records of older versions: the staging file's mtime then.
	Written time.Time `json:"written,omitempty"`
	// ContentDone is set when the content is on the server and only the
	// explicit mtime is left to write.
	ContentDone bool `json:"content_done,omitempty"`
	// ETag the content upload returned (with ContentDone).
	ETag string `json:"etag,omitempty"`
	// Queued is when the record was first written.
	Queued time.Time `json:"queued"`
	// Attempts counts failed upload attempts; LastError is the last
	// failure; NextTry is when the uploader tries again.
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	NextTry   time.Time `json:"next_try,omitempty"`
	// UploadID and Offset describe a REST upload session (files over
	// --put-limit): the id this odfb made and the bytes the server
	// confirmed. A restart continues from there.
	UploadID string `json:"upload_id,omitempty"`
	Offset   int64  `json:"offset,omitempty"`
}

// NewID returns a random 128-bit id in hex (staging names).
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// NewUploadID returns a random GUID for a REST upload session.
func NewUploadID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// LoadJournal returns every record in the journal.
func LoadJournal(db *bolt.DB) ([]JournalRecord, error) {
	var out []JournalRecord
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(BucketJournal).ForEach(func(k, v []byte) error {
			var r JournalRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("journal record %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// PutRecords writes records in one transaction (one fsync).
func PutRecords(db *bolt.DB, recs ...JournalRecord) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketJournal)
		for _, r := range recs {
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.ID), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRecords removes records by id in one transaction.
func DeleteRecords(db *bolt.DB, ids ...string) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketJournal)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// JournalOp is one change of the journal: Put writes a record, Delete
// (an id) removes one.
type JournalOp struct {
	Put    *JournalRecord
	Delete string
}

// ApplyJournal makes the changes ops, in their order, in one transaction
// (one fsync).
func ApplyJournal(db *bolt.DB, ops []JournalOp) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketJournal)
		for _, op := range ops {
			if op.Put == nil {
				if err := b.Delete([]byte(op.Delete)); err != nil {
					return err
				}
				continue
			}
			data, err := json.Marshal(op.Put)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(op.Put.ID), data); err != nil {
				return err
			}
		}
		return nil
	})
}
