package fusefs_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/remote/remotetest"
)

func seeded(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

var mtime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestFakeTreeAndNames(t *testing.T) {
	f := remotetest.New()
	files := map[string][]byte{ // server names
		"/plain.txt":                    []byte("hello\n"),
		"/with space/a #1 %20.txt":      seeded(3000, 1),
		"/Ünïcödé/日本語.md":               []byte("ja"),
		"/mapped/a：b＂c＊d＜e＞f？g＼h｜i.txt": []byte("mapped"),
	}
	for p, d := range files {
		f.AddFile(p, d, mtime)
	}
	f.AddDir("/empty")
	f.AddHidden("/Forms/AllItems.aspx", []byte("<html/>"), mtime)
	// SharePoint marks every "_name" hidden; a user's own file must still
	// be listed (or rsync would upload it again on every run).
	f.AddHidden("/_private/_notes.txt", []byte("mine"), mtime)
	want := map[string]string{"/_private/_notes.txt": "mine"}
	m := fstest.Mount(t, fstest.Config{Remote: f})

	for k, v := range map[string]string{
		"/plain.txt":                    string(files["/plain.txt"]),
		"/with space/a #1 %20.txt":      string(files["/with space/a #1 %20.txt"]),
		"/Ünïcödé/日本語.md":               "ja",
		`/mapped/a:b"c*d<e>f?g\h|i.txt`: "mapped",
	} {
		want[k] = v
	}
	got := map[string]string{}
	var dirs []string
	err := filepath.Walk(m.Dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, m.Dir)
		if info.IsDir() {
			dirs = append(dirs, rel)
			return nil
		}
		if !info.ModTime().Equal(mtime) {
			t.Errorf("%s mtime %v, want %v", rel, info.ModTime(), mtime)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if int64(len(data)) != info.Size() {
			t.Errorf("%s: size %d, read %d", rel, info.Size(), len(data))
		}
		got[rel] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("files: got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q: got %q, want %q", k, got[k], v)
		}
	}
	sort.Strings(dirs)
	if fmt.Sprint(dirs) != "[ /_private /empty /mapped /with space /Ünïcödé]" {
		t.Errorf("dirs: %q", dirs)
	}
	// Hidden items are not listed but can be opened by name.
	if data, err := os.ReadFile(filepath.Join(m.Dir, "Forms", "AllItems.aspx")); err != nil || string(data) != "<html/>" {
		t.Errorf("hidden item by name: %q %v", data, err)
	}
	// Case-insensitive, case-preserving.
	data, err := os.ReadFile(filepath.Join(m.Dir, "PLAIN.TXT"))
	if err != nil || string(data) != "hello\n" {
		t.Errorf("case-insensitive read: %q %v", data, err)
	}
	// Full-width spelling reaches the same file.
	if _, err := os.Stat(filepath.Join(m.Dir, "mapped", "a：b＂c＊d＜e＞f？g＼h｜i.txt")); err != nil {
		t.Errorf("full-width alias: %v", err)
	}
	// Reserved names: ENOENT without a request.
	f.ResetCalls()
	for _, n := range []string{"CON", "desktop.ini", "~$x.docx", "a_vti_b", " lead"} {
		if _, err := os.Stat(filepath.Join(m.Dir, "empty", n)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("stat reserved %q: %v", n, err)
		}
	}
	if f.Calls("List") > 1 { // the listing of /empty, at most
		t.Errorf("reserved lookups made %d List calls", f.Calls("List"))
	}
}

func TestFakeReadOnly(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/a.txt", []byte("a"), mtime)
	m := fstest.Mount(t, fstest.Config{Remote: f, FS: fusefs.Options{ReadOnly: true}})
	p := filepath.Join(m.Dir, "a.txt")
	checks := map[string]error{
		"create": os.WriteFile(filepath.Join(m.Dir, "new"), []byte("x"), 0o644),
		"open rw": func() error {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err == nil {
				f.Close()
			}
			return err
		}(),
		"mkdir":    os.Mkdir(filepath.Join(m.Dir, "d"), 0o755),
		"remove":   os.Remove(p),
		"rename":   os.Rename(p, filepath.Join(m.Dir, "b.txt")),
		"chmod":    os.Chmod(p, 0o600),
		"truncate": os.Truncate(p, 0),
		"symlink":  os.Symlink("a.txt", filepath.Join(m.Dir, "l")),
	}
	for op, err := range checks {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", op, err)
		}
	}
	if n := f.Calls("Put") + f.Calls("Mkdir") + f.Calls("Delete") + f.Calls("Move"); n != 0 {
		t.Errorf("%d write calls reached the remote", n)
	}
}

func TestFakeRequestEconomy(t *testing.T) {
	f := remotetest.New()
	for i := 0; i < 1000; i++ {
		f.AddFile(fmt.Sprintf("/big/file-%04d.txt", i), []byte("x"), mtime)
	}
	m := fstest.Mount(t, fstest.Config{Remote: f, DirCacheTime: time.Hour})
	if _, err := os.ReadDir(m.Dir); err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	out, err := exec.Command("ls", "-l", filepath.Join(m.Dir, "big")).CombinedOutput()
	if err != nil {
		t.Fatalf("ls -l: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "file-"); n != 1000 {
		t.Fatalf("ls -l shows %d files", n)
	}
	if f.TotalCalls() != 1 || f.Calls("List") != 1 {
		t.Fatalf("cold ls -l: %d calls (%d List), want exactly 1 List", f.TotalCalls(), f.Calls("List"))
	}
	for i := 0; i < 1000; i++ {
		if _, err := os.Stat(filepath.Join(m.Dir, "big", fmt.Sprintf("file-%04d.txt", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := exec.Command("ls", "-l", filepath.Join(m.Dir, "big")).CombinedOutput(); err != nil {
		t.Fatal(err)
	}
	if f.TotalCalls() != 1 {
		t.Fatalf("warm ls -l and 1000 stats added %d calls", f.TotalCalls()-1)
	}
}

func TestFakeRandomRead(t *testing.T) {
	f := remotetest.New()
	size := 24 << 20
	data := seeded(size, 9)
	f.AddFile("/big.bin", data, mtime)
	m := fstest.Mount(t, fstest.Config{Remote: f})
	fh, err := os.Open(filepath.Join(m.Dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	buf := make([]byte, 4096)
	off := int64(20<<20 + 5)
	if _, err := fh.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data[off:off+4096]) {
		t.Fatal("content differs")
	}
	var sent int64
	for _, g := range f.Gets() {
		sent += g.Sent
	}
	if sent > cache.BlockSize {
		t.Fatalf("4 KiB random read moved %d bytes, want <= one block (%d): %+v", sent, cache.BlockSize, f.Gets())
	}
}

func TestFakeOffline(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/d/read.txt", []byte("was read"), mtime)
	f.AddFile("/d/unread.txt", []byte("never read"), mtime)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	m := fstest.Mount(t, fstest.Config{Remote: f, CacheDir: cacheDir})
	if data, err := os.ReadFile(filepath.Join(m.Dir, "d", "read.txt")); err != nil || string(data) != "was read" {
		t.Fatalf("read: %q %v", data, err)
	}
	m.Unmount(t)

	f.Fail("*", remote.ErrUnavailable)
	m = fstest.Mount(t, fstest.Config{Remote: f, CacheDir: cacheDir})
	ents, err := os.ReadDir(filepath.Join(m.Dir, "d"))
	if err != nil || len(ents) != 2 {
		t.Fatalf("offline listing: %v %v", ents, err)
	}
	if data, err := os.ReadFile(filepath.Join(m.Dir, "d", "read.txt")); err != nil || string(data) != "was read" {
		t.Fatalf("offline read: %q %v", data, err)
	}
	if _, err := os.ReadFile(filepath.Join(m.Dir, "d", "unread.txt")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("offline read of uncached file: %v, want EIO", err)
	}
}

func TestFakeParallelReaders(t *testing.T) {
	f := remotetest.New()
	data := seeded(5<<20, 11)
	f.AddFile("/f.bin", data, mtime)
	m := fstest.Mount(t, fstest.Config{Remote: f})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := os.ReadFile(filepath.Join(m.Dir, "f.bin"))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("parallel read: %d bytes, %v", len(got), err)
			}
		}()
	}
	wg.Wait()
	var sent int64
	for _, g := range f.Gets() {
		sent += g.Sent
	}
	if sent != int64(len(data)) {
		t.Errorf("parallel readers moved %d bytes for a %d-byte file", sent, len(data))
	}
}

func TestFakeStatfsAndLongNames(t *testing.T) {
	f := remotetest.New()
	f.SetQuota(remote.Quota{Known: true, Used: 3 << 30, Available: 7 << 30})
	f.AddDir("/d")
	// The library sits at 380 characters of server path: names that would
	// pass SharePoint's 400 are looked up, longer ones are not.
	m := fstest.Mount(t, fstest.Config{Remote: f, FS: fusefs.Options{PrefixChars: 380}})
	var st syscall.Statfs_t
	if err := syscall.Statfs(m.Dir, &st); err != nil {
		t.Fatal(err)
	}
	if total := int64(st.Blocks) * st.Bsize; total != 10<<30 {
		t.Errorf("statfs total %d, want %d", total, int64(10<<30))
	}
	if free := int64(st.Bavail) * st.Bsize; free != 7<<30 {
		t.Errorf("statfs available %d, want %d", free, int64(7<<30))
	}
	if _, err := os.ReadDir(filepath.Join(m.Dir, "d")); err != nil {
		t.Fatal(err)
	}
	f.ResetCalls()
	if _, err := os.Stat(filepath.Join(m.Dir, "d", strings.Repeat("x", 30))); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("over-long path: %v, want ENOENT", err)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "d", "short")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing short name: %v, want ENOENT", err)
	}
	if n := f.TotalCalls(); n != 0 {
		t.Errorf("lookups of impossible and missing names made %d requests", n)
	}
}
