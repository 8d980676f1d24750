package fusefs_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// writeSeeded writes size bytes of seeded data to path in 1 MiB pieces
// (one random MiB, rotated differently for every MiB so that a misplaced
// block changes the hash) and returns its SHA-256.
func writeSeeded(t *testing.T, path string, size int64, seed int64) [32]byte {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := make([]byte, 1<<20)
	rand.New(rand.NewSource(seed)).Read(base)
	piece := make([]byte, 1<<20)
	h := sha256.New()
	for off, k := int64(0), 0; off < size; off, k = off+int64(len(piece)), k+1 {
		r := (k * 4099) % len(base)
		copy(piece, base[r:])
		copy(piece[len(base)-r:], base[:r])
		n := min(int64(len(piece)), size-off)
		if _, err := f.Write(piece[:n]); err != nil {
			t.Fatal(err)
		}
		h.Write(piece[:n])
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

type treeEntry struct {
	dir   bool
	size  int64
	mtime int64
	sum   [32]byte
}

// TestSpemuTree: the tree under the mount equals the tree spemu serves,
// names (spaces, #, %, non-ASCII, mapped characters), sizes, mtimes and
// contents by SHA-256.
func TestSpemuTree(t *testing.T) {
	root := t.TempDir()
	files := map[string]int64{ // server names → size
		"/plain.txt":                    12,
		"/with space/a #1 %20 100%.txt": 5000,
		"/Ünïcödé/日本語 ファイル.md":          700,
		"/mapped/a：b＂c＊d＜e＞f？g＼h｜i.txt": 33,
		"/deep/er/still/x.bin":          3<<20 + 17,
		"/empty.txt":                    0,
	}
	for p, size := range files {
		writeSeeded(t, filepath.Join(root, p), size, int64(len(p)))
	}
	os.MkdirAll(filepath.Join(root, "empty folder"), 0o755)
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{})

	// What spemu serves, by server names, mapped to what the user must see.
	want := map[string]treeEntry{}
	var walkServer func(p string)
	walkServer = func(p string) {
		ents, err := os.ReadDir(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			sp := strings.TrimSuffix(p, "/") + "/" + e.Name()
			if strings.HasPrefix(sp, "/_vti_") {
				continue // spemu's private metadata, not served
			}
			it, err := srv.Stat(sp)
			if err != nil {
				t.Fatalf("spemu stat %s: %v", sp, err)
			}
			local := strings.NewReplacer("：", ":", "＂", `"`, "＊", "*", "＜", "<", "＞", ">", "？", "?", "＼", `\`, "｜", "|").Replace(sp)
			te := treeEntry{dir: it.IsDir, mtime: it.Modified.Unix()}
			if it.IsDir {
				walkServer(sp)
			} else {
				te.size = it.Size
				te.sum = sha256File(t, filepath.Join(root, sp))
			}
			want[local] = te
		}
	}
	walkServer("/")

	got := map[string]treeEntry{}
	err := filepath.Walk(m.Dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == m.Dir {
			return err
		}
		rel := strings.TrimPrefix(p, m.Dir)
		te := treeEntry{dir: info.IsDir(), mtime: info.ModTime().Unix()}
		if !info.IsDir() {
			te.size = info.Size()
			te.sum = sha256File(t, p)
		}
		got[rel] = te
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("mount shows %d entries, spemu serves %d", len(got), len(want))
	}
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%q missing under the mount", p)
		case g != w:
			t.Errorf("%q: mount %+v, spemu %+v", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%q under the mount but not served by spemu", p)
		}
	}
	if _, ok := want[`/mapped/a:b"c*d<e>f?g\h|i.txt`]; !ok {
		t.Errorf("fixture with mapped characters not served: %v", want)
	}
}

// TestSpemuRequestEconomy reads spemu's request log.
func TestSpemuRequestEconomy(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 1000; i++ {
		p := filepath.Join(root, "big folder", fmt.Sprintf("file %04d.txt", i))
		if i == 0 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err := os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const bigSize = 200 << 20
	bigSum := writeSeeded(t, filepath.Join(root, "big.bin"), bigSize, 42)
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{DirCacheTime: time.Hour})
	if _, err := os.ReadDir(m.Dir); err != nil { // the root listing, not counted below
		t.Fatal(err)
	}

	count := func(method string) (n int, resp int64, recs []spemu.RequestRecord) {
		for _, r := range srv.Requests() {
			if r.Method == method {
				n++
				resp += r.RespBytes
				recs = append(recs, r)
			}
		}
		return
	}

	t.Run("ls -l 1000 files", func(t *testing.T) {
		srv.ResetRequests()
		out, err := exec.Command("ls", "-l", filepath.Join(m.Dir, "big folder")).CombinedOutput()
		if err != nil {
			t.Fatalf("ls -l: %v\n%s", err, out)
		}
		if n := strings.Count(string(out), "file "); n != 1000 {
			t.Fatalf("ls -l shows %d files", n)
		}
		recs := srv.Requests()
		if len(recs) != 1 || recs[0].Method != "PROPFIND" || recs[0].Depth != "1" || !strings.HasSuffix(recs[0].Path, "/big folder") {
			t.Fatalf("cold ls -l: want exactly one PROPFIND Depth 1 of the folder, got %+v", recs)
		}
		srv.ResetRequests()
		if out, err := exec.Command("ls", "-l", filepath.Join(m.Dir, "big folder")).CombinedOutput(); err != nil {
			t.Fatalf("ls -l: %v\n%s", err, out)
		}
		for i := 0; i < 1000; i++ {
			if _, err := os.Stat(filepath.Join(m.Dir, "big folder", fmt.Sprintf("file %04d.txt", i))); err != nil {
				t.Fatal(err)
			}
		}
		if recs := srv.Requests(); len(recs) != 0 {
			t.Fatalf("warm ls -l and 1000 stats sent %d requests: %+v", len(recs), recs[0])
		}
	})

	t.Run("sequential 200 MiB", func(t *testing.T) {
		srv.ResetRequests()
		if got := sha256File(t, filepath.Join(m.Dir, "big.bin")); got != bigSum {
			t.Fatal("content of big.bin differs")
		}
		n, resp, recs := count("GET")
		// Read-ahead starts at 1 MiB and doubles per window up to 32 MiB;
		// each window goes out as up to 4 ranged GETs (the default
		// number of fetches) of at least 1 MiB: 1+2+4+4+4 GETs for
		// 1+2+4+8+16 = 31 MiB, then 4 per 32 MiB window for the other
		// 169 MiB: 37. Kernel read requests arriving out of order can
		// restart the window once or twice, hence the bound of 48;
		// every byte comes over the wire once.
		if n > 48 {
			t.Errorf("sequential read of 200 MiB took %d GETs, want <= 48: %+v", n, recs)
		}
		if resp != bigSize {
			t.Errorf("sequential read transferred %d bytes, want exactly %d", resp, bigSize)
		}
		t.Logf("sequential 200 MiB: %d GETs", n)
	})

	t.Run("random 4 KiB at 150 MiB", func(t *testing.T) {
		// A fresh cache holding nothing of big.bin.
		m2, srv2 := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{})
		_ = srv
		fh, err := os.Open(filepath.Join(m2.Dir, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		srv2.ResetRequests()
		buf := make([]byte, 4096)
		if _, err := fh.ReadAt(buf, 150<<20); err != nil {
			t.Fatal(err)
		}
		var n int
		var resp int64
		for _, r := range srv2.Requests() {
			if r.Method == "GET" {
				n++
				resp += r.RespBytes
			}
		}
		// The read-ahead window of a random read is one block.
		if n != 1 || resp > cache.BlockSize {
			t.Errorf("4 KiB read at 150 MiB: %d GETs, %d bytes; want 1 GET of at most %d bytes", n, resp, cache.BlockSize)
		}
	})
}

// TestSpemuOfflineRemount: after unmount and remount with spemu stopped,
// the listing and already-read files are still readable; with spemu back,
// a file changed on the server shows its new content after
// --dir-cache-time.
func TestSpemuOfflineRemount(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "docs"), 0o755)
	os.WriteFile(filepath.Join(root, "docs", "read.txt"), []byte("version 1"), 0o644)
	os.WriteFile(filepath.Join(root, "docs", "unread.txt"), []byte("never read"), 0o644)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	const ttl = time.Second

	srv := fstest.StartSpemu(t, spemu.Config{Root: root})
	url := srv.LibraryURL()
	addr := strings.TrimPrefix(srv.URL(), "http://")
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, url, nil), Library: url, CacheDir: cacheDir, DirCacheTime: ttl})
	if data, err := os.ReadFile(filepath.Join(m.Dir, "docs", "read.txt")); err != nil || string(data) != "version 1" {
		t.Fatalf("read: %q %v", data, err)
	}
	m.Unmount(t)
	srv.Close()

	m = fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, url, nil), Library: url, CacheDir: cacheDir, DirCacheTime: ttl})
	ents, err := os.ReadDir(filepath.Join(m.Dir, "docs"))
	if err != nil || len(ents) != 2 {
		t.Fatalf("offline listing: %v, %v", ents, err)
	}
	if data, err := os.ReadFile(filepath.Join(m.Dir, "docs", "read.txt")); err != nil || string(data) != "version 1" {
		t.Fatalf("offline read of a file read before: %q %v", data, err)
	}
	if _, err := os.ReadFile(filepath.Join(m.Dir, "docs", "unread.txt")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("offline read of a file never read: %v, want EIO", err)
	}

	// The server comes back (same address, same files) with a change.
	srv = fstest.StartSpemu(t, spemu.Config{Root: root, Listen: addr})
	if err := srv.WriteFile("/docs/read.txt", []byte("version 2, longer")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(m.Dir, "docs", "read.txt"))
		if err == nil && string(data) == "version 2, longer" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new content not shown 30s after the server came back (dir-cache-time %v): %q %v", ttl, data, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(m.Dir, "docs", "unread.txt")), []byte("never read")) {
		t.Fatal("unread.txt content")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
