package cache

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/odfb/odfb/cache/internal/blocks"
	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

// bucketDump returns every key and value of bucket in meta.db.
func bucketDump(t *testing.T, db *bolt.DB, bucket []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOldBlockSizeDropped: a cache written by an odfb with 1 MiB blocks
// (content records without a block size, bitmaps counting MiB) is not
// misread after the upgrade: its content records and files are dropped
// when the cache opens and the content is fetched again, while the
// listings and the upload journal stay as they were.
func TestOldBlockSizeDropped(t *testing.T) {
	const oldBlock = 1 << 20
	dir := t.TempDir()
	f := remotetest.New()
	mt := time.Unix(1710000000, 0)
	data := seeded(4*oldBlock, 11)
	small := seeded(3*oldBlock, 12)
	f.AddFile("/big.bin", data, mt)
	f.AddFile("/small.bin", small, mt)
	clk := &clock{t: time.Unix(1720000000, 0)}
	ctx := context.Background()

	c := openCache(t, dir, f, clk, 0)
	big, err := c.Stat(ctx, "/big.bin") // stores the root listing
	if err != nil {
		t.Fatal(err)
	}
	sm, err := c.Stat(ctx, "/small.bin")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// What the old odfb left: /big.bin with its second MiB cached (bit 1
	// of the bitmap; in 256 KiB blocks bit 1 would claim bytes 256 KiB to
	// 512 KiB, a hole in the file), no block size in the record; and
	// /small.bin recorded with an explicit 1 MiB block size, block 0.
	db, err := bolt.Open(filepath.Join(dir, "meta.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := func(e remote.Entry, bitmap byte, bs int64, src []byte, present ...int) metadb.ContentRecord {
		rec := metadb.ContentRecord{Path: e.Path, ETag: blocks.VersionOf(e), Size: e.Size, File: blocks.FileName(e.Path, blocks.VersionOf(e)),
			Blocks: []byte{bitmap}, LastUsed: clk.now(), BlockSize: bs}
		cf, err := os.OpenFile(filepath.Join(dir, "content", rec.File), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer cf.Close()
		if err := cf.Truncate(e.Size); err != nil {
			t.Fatal(err)
		}
		for _, b := range present {
			if _, err := cf.WriteAt(src[b*oldBlock:(b+1)*oldBlock], int64(b*oldBlock)); err != nil {
				t.Fatal(err)
			}
			rec.Bytes += oldBlock
		}
		return rec
	}
	recs := map[string]metadb.ContentRecord{
		fold(big.Path): old(big, 0x02, 0, data, 1),
		fold(sm.Path):  old(sm, 0x01, oldBlock, small, 0),
	}
	jr := JournalRecord{ID: metadb.NewID(), Path: "/pending.txt", Size: 5, New: true, Queued: clk.now()}
	if err := metadb.PutRecords(db, jr); err != nil {
		t.Fatal(err)
	}
	for k, r := range recs {
		if err := metadb.PutJSON(db, metadb.BucketContent, k, r); err != nil {
			t.Fatal(err)
		}
	}
	if raw := bucketDump(t, db, metadb.BucketContent)[fold(big.Path)]; bytes.Contains([]byte(raw), []byte("block_size")) {
		t.Fatalf("old-style record names a block size: %s", raw)
	}
	dirsBefore, journalBefore := bucketDump(t, db, metadb.BucketDirs), bucketDump(t, db, metadb.BucketJournal)
	db.Close()
	if len(dirsBefore) == 0 || len(journalBefore) != 1 {
		t.Fatalf("setup: %d listings, %d journal records", len(dirsBefore), len(journalBefore))
	}

	// The upgrade.
	c = openCache(t, dir, f, clk, 0)
	defer c.Close()
	if got := bucketDump(t, c.db, metadb.BucketContent); len(got) != 0 {
		t.Errorf("content records of another block size kept: %v", got)
	}
	for _, r := range recs {
		if _, err := os.Stat(filepath.Join(dir, "content", r.File)); !os.IsNotExist(err) {
			t.Errorf("content file %s of another block size kept: %v", r.File, err)
		}
	}
	if u := c.ContentUsed(); u != 0 {
		t.Errorf("content used %d after dropping the old records, want 0", u)
	}
	if got := bucketDump(t, c.db, metadb.BucketDirs); !maps.Equal(got, dirsBefore) {
		t.Error("listings changed by the upgrade")
	}
	if got := bucketDump(t, c.db, metadb.BucketJournal); !maps.Equal(got, journalBefore) {
		t.Error("upload journal changed by the upgrade")
	}

	// Reads return the server's bytes, fetched again.
	f.ResetCalls()
	for _, tc := range []struct {
		path string
		src  []byte
		off  int64
	}{
		{"/big.bin", data, oldBlock + 100}, // the old cached MiB
		{"/big.bin", data, 256<<10 + 100},  // bit 1 read as a 256 KiB block
		{"/small.bin", small, 100},
	} {
		h, err := c.Open(ctx, tc.path)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		before := f.Calls("Get")
		if _, err := h.ReadAt(ctx, buf, tc.off); err != nil {
			t.Fatal(err)
		}
		h.Close()
		if !bytes.Equal(buf, tc.src[tc.off:tc.off+4096]) {
			t.Errorf("%s at %d: wrong data after the upgrade", tc.path, tc.off)
		}
		if f.Calls("Get") == before {
			t.Errorf("%s at %d: served from the old cache without a GET", tc.path, tc.off)
		}
	}
	var rec metadb.ContentRecord
	if found, err := metadb.GetJSON(c.db, metadb.BucketContent, fold(big.Path), &rec); err != nil || !found || rec.BlockSize != BlockSize {
		t.Errorf("new record: found %v, block size %d, err %v; want %d", found, rec.BlockSize, err, BlockSize)
	}
}
