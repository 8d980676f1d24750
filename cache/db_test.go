package cache

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestSchemaNewerRefused: a meta.db written by a newer odfb (a higher
// schema number) is refused with ErrSchema and a message that says what
// to do, and is left exactly as it was: its journal may hold uploads only
// the newer odfb understands.
func TestSchemaNewerRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	c := openCache(t, dir, remotetest.New(), &clock{t: time.Unix(1720000000, 0)}, 0)
	if err := metadb.PutRecords(c.db, JournalRecord{ID: "rec1", Path: "/pending.txt"}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	newer := strconv.Itoa(SchemaVersion + 1)
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(metadb.BucketMeta).Put(metadb.KeySchema, []byte(newer)) }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = Open(Options{Dir: dir, Library: "https://example/lib", Remote: remotetest.New(), Logger: quietLogger(t)})
	if !errors.Is(err, ErrSchema) {
		t.Fatalf("Open of a newer meta.db: %v, want ErrSchema", err)
	}
	for _, want := range []string{"newer odfb", "schema " + newer, "reads " + strconv.Itoa(SchemaVersion), "--cache-dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	db, err = bolt.Open(filepath.Join(dir, "meta.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("meta.db after the refusal: %v (still locked?)", err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(metadb.BucketMeta).Get(metadb.KeySchema); string(v) != newer {
			t.Errorf("schema after the refusal: %q, want %s untouched", v, newer)
		}
		if j := tx.Bucket(metadb.BucketJournal); j == nil || j.Get([]byte("rec1")) == nil {
			t.Error("the journal of the newer odfb was changed")
		}
		return nil
	})
}
