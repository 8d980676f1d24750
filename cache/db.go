package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/odfb/odfb/remote"
)

// SchemaVersion is the layout of meta.db this code reads and writes. An
// older layout of the cache buckets is dropped and rebuilt (it is only a
// cache); a newer one is refused. A change that affects the journal
// bucket must migrate it instead, never drop it.
const SchemaVersion = 1

var (
	bucketMeta    = []byte("meta")
	bucketDirs    = []byte("dirs")
	bucketContent = []byte("content")
	// BucketJournal is reserved for the write side's upload journal.
	bucketJournal = []byte("journal")

	keySchema  = []byte("schema")
	keyLibrary = []byte("library")
)

// ErrSchema reports a meta.db written by a newer odfb.
var ErrSchema = errors.New("cache database was written by a newer odfb")

// dirRecord is a folder's listing as stored in the "dirs" bucket.
type dirRecord struct {
	Path    string         `json:"path"`
	Fetched time.Time      `json:"fetched"`
	Gone    bool           `json:"gone,omitempty"` // negative entry: the server said it is not there
	Self    remote.Entry   `json:"self"`
	Kids    []remote.Entry `json:"kids"`
}

// contentRecord describes one cached file in the "content" bucket.
type contentRecord struct {
	Path     string    `json:"path"`
	ETag     string    `json:"etag"`
	Size     int64     `json:"size"`
	File     string    `json:"file"`   // name under content/
	Blocks   []byte    `json:"blocks"` // bitmap, bit i = block i present
	Bytes    int64     `json:"bytes"`  // bytes present (for --cache-size)
	LastUsed time.Time `json:"last_used"`
	// BlockSize is the block size Blocks counts in. A record of another
	// size (0: written before it was recorded, with 1 MiB blocks) is
	// dropped with its file when the cache opens.
	BlockSize int64 `json:"block_size,omitempty"`
}

func openDB(path, library string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s is in use by another odfb (one mount per cache directory)", path)
		}
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keySchema); v != nil {
			n, _ := strconv.Atoi(string(v))
			if n > SchemaVersion {
				return fmt.Errorf("%w (schema %d, this odfb reads %d): use a newer odfb or another --cache-dir", ErrSchema, n, SchemaVersion)
			}
			if n < SchemaVersion {
				for _, b := range [][]byte{bucketDirs, bucketContent} {
					if tx.Bucket(b) != nil {
						if err := tx.DeleteBucket(b); err != nil {
							return err
						}
					}
				}
			}
		}
		if lib := meta.Get(keyLibrary); lib != nil && string(lib) != library && library != "" {
			// Another library's cache: drop its metadata rather than show
			// the wrong tree. The journal stays (it names its own URL).
			for _, b := range [][]byte{bucketDirs, bucketContent} {
				if tx.Bucket(b) != nil {
					if err := tx.DeleteBucket(b); err != nil {
						return err
					}
				}
			}
		}
		for _, b := range [][]byte{bucketDirs, bucketContent, bucketJournal, bucketMtimes} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return err
		}
		if library != "" {
			return meta.Put(keyLibrary, []byte(library))
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func putJSON(db *bolt.DB, bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), data) })
}

func getJSON(db *bolt.DB, bucket []byte, key string, v any) (bool, error) {
	var found bool
	err := db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucket).Get([]byte(key))
		if data == nil {
			return nil
		}
		found = true
		return json.Unmarshal(data, v)
	})
	return found, err
}

func deleteKey(db *bolt.DB, bucket []byte, key string) error {
	return db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) })
}
