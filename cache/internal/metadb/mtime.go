package metadb

import (
	"encoding/binary"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/remote"
)

// The mtime a file written here shows. While it is written and until its
// upload, listings show the time of its last write (pending.mtime). The
// server then stamps the version with its own upload time (whole seconds,
// a few seconds later), which would make the file seem to change behind
// the application's back (make, an editor's "changed on disk" check, a
// backup tool's second pass). Instead of a PROPPATCH per file, the cache
// keeps, per version uploaded from here, the time the application saw:
// bucket "mtimes", key the version's ETag (normalised as sameETag does;
// SharePoint's "{GUID},N" names one item's one version), value the time
// in nanoseconds. Every listing fetched from the server shows that time
// for a file whose ETag is still that version, also after a remount; a
// version written elsewhere has another ETag and shows the server's time.
// An mtime the application set explicitly goes to the server and needs
// no record; it drops the record of the version it was set on, and a
// listing that shows one (ModTime other than ServerModTime) is never
// overridden.
//
// Records are dropped when the version is replaced from here (its ETag
// was the base of the next upload) or a listing shows another version
// under the same name. One of a file deleted or renamed elsewhere stays
// (16 bytes of key and 8 of value) until the cache is dropped.

func etagKey(etag string) []byte {
	s := strings.Trim(strings.TrimPrefix(strings.TrimSpace(etag), "W/"), `"`)
	return []byte(s)
}

// KeepMtime records that version etag shows mtime t, and forgets the
// record of the version it replaced (old; "" for none). Batched: uploads
// that end together share one commit.
func KeepMtime(db *bolt.DB, etag, old string, t time.Time) error {
	if etag == "" {
		return nil
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(t.UnixNano()))
	return db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketMtimes)
		if old != "" && !SameETag(old, etag) {
			if err := b.Delete(etagKey(old)); err != nil {
				return err
			}
		}
		return b.Put(etagKey(etag), v[:])
	})
}

// ForgetMtimes drops the records of versions no longer on the server.
func ForgetMtimes(db *bolt.DB, etags []string) error {
	if len(etags) == 0 {
		return nil
	}
	return db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketMtimes)
		for _, e := range etags {
			if err := b.Delete(etagKey(e)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ApplyMtimes shows the kept mtime on every file of kids whose version
// was uploaded from here.
func ApplyMtimes(db *bolt.DB, kids []remote.Entry) error {
	return db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(BucketMtimes)
		if k, _ := b.Cursor().First(); k == nil { // Stats() would walk the whole bucket
			return nil
		}
		for i := range kids {
			if kids[i].IsDir || kids[i].ETag == "" {
				continue
			}
			if !kids[i].ServerModTime.IsZero() && !kids[i].ModTime.Equal(kids[i].ServerModTime) {
				continue // an mtime set explicitly, stored on the server: it wins
			}
			if v := b.Get(etagKey(kids[i].ETag)); len(v) == 8 {
				kids[i].ModTime = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			}
		}
		return nil
	})
}
