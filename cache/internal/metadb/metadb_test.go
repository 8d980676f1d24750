package metadb

import (
	"path/filepath"
	"testing"
)

// TestOpenOtherLibraryKeepsJournal: a meta.db reused for another library
// loses its listings and content records, never its upload journal.
func TestOpenOtherLibraryKeepsJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db, err := Open(path, "https://a/lib")
	if err != nil {
		t.Fatal(err)
	}
	if err := PutJSON(db, BucketDirs, "/", DirRecord{Path: "/"}); err != nil {
		t.Fatal(err)
	}
	if err := PutRecords(db, JournalRecord{ID: "r1", Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(path, "https://b/lib")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var d DirRecord
	if found, err := GetJSON(db, BucketDirs, "/", &d); err != nil || found {
		t.Fatalf("listing of the other library: found %v, %v", found, err)
	}
	recs, err := LoadJournal(db)
	if err != nil || len(recs) != 1 || recs[0].ID != "r1" {
		t.Fatalf("journal: %+v, %v", recs, err)
	}
	if err := DeleteRecords(db, "r1"); err != nil {
		t.Fatal(err)
	}
	if recs, _ := LoadJournal(db); len(recs) != 0 {
		t.Fatalf("after delete: %+v", recs)
	}
}
