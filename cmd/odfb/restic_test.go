package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestResticBackupRestore is the job odfb exists for: restic keeps its
// repository in a SharePoint library through a real `odfb mount` (the
// built binary, cookie file, default write options) of an in-process
// spemu. It checks the server side after `odfb sync` — the repository
// is there byte for byte, each file restic wrote was uploaded once under
// its final name (no temporary name, no MOVE on the server), no LOCK,
// nothing in lost+found — then remounts with an empty cache, so that
// every byte comes from the server, and runs `restic check --read-data`,
// a restore compared with the source by SHA-256, and a second backup.
func TestResticBackupRestore(t *testing.T) {
	testenv.NeedFUSE(t)
	restic := testenv.LookPath(t, "restic")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie"})
	lib, err := url.Parse(srv.LibraryURL())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	nFiles, nBytes := makeBackupSource(t, src)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	pwFile := filepath.Join(dir, "restic-password")
	if err := os.WriteFile(pwFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const repoLib = "/backups/restic" // the repository's path in the library
	env := []string{
		"RESTIC_REPOSITORY=" + filepath.Join(mnt, filepath.FromSlash(repoLib)),
		"RESTIC_PASSWORD_FILE=" + pwFile,
		"RESTIC_CACHE_DIR=" + filepath.Join(dir, "restic-cache-1"),
		"HOME=" + dir,
	}
	started := time.Now()

	m := startMount(t, bin, srv, mnt, filepath.Join(dir, "cache-1"))
	if err := os.MkdirAll(filepath.Join(mnt, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	runTool(t, restic, env, "", "init")
	runTool(t, restic, env, src, "backup", ".")
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Fatalf("odfb sync after the backup: exit %d: %s\n%s", code, errs, m.logText())
	}

	// The server holds the repository, the same bytes as the mount shows.
	files := serverRepo(t, srv, repoLib)
	for _, d := range []string{"config", "keys/", "data/", "index/", "snapshots/"} {
		found := false
		for p := range files {
			found = found || p == d || strings.HasPrefix(p, d)
		}
		if !found {
			t.Errorf("no %s in the repository on the server; it holds %v", d, sortedKeys(files))
		}
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(mnt, filepath.FromSlash(repoLib+"/"+p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the mount shows %d bytes (%v), the server holds %d", p, len(got), err, len(want))
		}
	}
	mounted := map[string]bool{}
	filepath.WalkDir(filepath.Join(mnt, filepath.FromSlash(repoLib)), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(mnt, filepath.FromSlash(repoLib)), p)
			mounted[filepath.ToSlash(rel)] = true
		}
		return err
	})
	if len(mounted) != len(files) {
		t.Errorf("the mount shows %d repository files, the server holds %d:\nmount  %v\nserver %v",
			len(mounted), len(files), sortedKeys(mounted), sortedKeys(files))
	}

	// One upload per file restic wrote, under the final name: a PUT for
	// each repository file, plus one for a lock file restic created and
	// removed after the write-back delay (then also deleted on the server).
	reqs := srv.Requests()
	prefix := lib.Path + repoLib + "/"
	puts := map[string]int{}
	counts := map[string]int{}
	for _, r := range reqs {
		counts[r.Method]++
		switch {
		case r.Method == "LOCK" || r.Method == "UNLOCK":
			t.Errorf("%s %s: odfb must not take WebDAV locks", r.Method, r.Path)
		case r.Method == "POST" && strings.Contains(r.Path, "StartUpload"):
			t.Errorf("chunked upload %s: no repository file exceeds the default --put-limit", r.Path)
		case r.Method == "PUT":
			if !strings.HasPrefix(r.Path, prefix) {
				t.Errorf("PUT outside the repository: %s", r.Path)
				continue
			}
			puts[strings.TrimPrefix(r.Path, prefix)]++
		}
	}
	locks := 0
	for p, n := range puts {
		switch {
		case n != 1:
			t.Errorf("%s uploaded %d times; want once", p, n)
		case files[p] != nil:
		case strings.HasPrefix(p, "locks/"):
			locks++
		default:
			t.Errorf("PUT %s: not a file of the repository (a temporary name uploaded?)", p)
		}
	}
	for p := range files {
		if puts[p] == 0 {
			t.Errorf("%s is on the server without a PUT of its own (uploaded under another name and moved?)", p)
		}
	}
	if n := counts["MOVE"]; n != 0 {
		t.Errorf("%d MOVE requests; restic's temporary files must be renamed before the upload, not on the server", n)
	}
	if code, out, _ := runOdfb(t, bin, "status", mnt); code != 0 || !strings.Contains(out, "uploads: 0 queued") ||
		strings.Contains(out, "lost+found") || strings.Contains(out, "conflict") {
		t.Errorf("odfb status after the sync (exit %d):\n%s", code, out)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "cache-1", "lost+found")); len(ents) != 0 {
		t.Errorf("lost+found holds %d entries", len(ents))
	}
	t.Logf("backup of %d files (%d bytes): %d repository files on the server, %d PUTs (%d of them lock files), %d requests %v",
		nFiles, nBytes, len(files), sum(puts), locks, len(reqs), counts)

	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("odfb unmount: exit %d: %s", code, errs)
	}
	if err := <-m.exited; err != nil {
		t.Fatalf("mount exit: %v\n%s", err, m.logText())
	}

	// An empty odfb cache and an empty restic cache: everything read
	// from here on comes from the server.
	env = append(env, "RESTIC_CACHE_DIR="+filepath.Join(dir, "restic-cache-2")) // the last one wins
	srv.ResetRequests()
	m = startMount(t, bin, srv, mnt, filepath.Join(dir, "cache-2"))
	runTool(t, restic, env, "", "check", "--read-data")
	gets := 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && r.Status/100 == 2 {
			gets++
		}
	}
	if gets == 0 {
		t.Error("restic check --read-data after a remount with an empty cache sent no GET")
	}
	restored := filepath.Join(dir, "restored")
	runTool(t, restic, env, "", "restore", "latest", "--target", restored)
	want, got := treeSums(t, src), treeSums(t, restored)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("restored %q: sha256 %.12s, source %.12s", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("restored %q, not in the source", p)
		}
	}

	// A second backup after changing two files.
	if err := os.WriteFile(filepath.Join(src, "docs", "notes 2024.txt"), seededBytes(5000, 901), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "media", "big.bin"), seededBytes(8<<20, 902), 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, restic, env, src, "backup", ".")
	out := runTool(t, restic, env, "", "snapshots", "--json")
	var snaps []json.RawMessage
	if err := json.Unmarshal([]byte(out), &snaps); err != nil || len(snaps) != 2 {
		t.Errorf("restic snapshots: %d snapshots (%v); want 2:\n%s", len(snaps), err, out)
	}
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Fatalf("odfb sync after the second backup: exit %d: %s\n%s", code, errs, m.logText())
	}
	files2 := serverRepo(t, srv, repoLib)
	for p, want := range files2 {
		got, err := os.ReadFile(filepath.Join(mnt, filepath.FromSlash(repoLib+"/"+p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("after the second backup, %s: the mount shows %d bytes (%v), the server holds %d", p, len(got), err, len(want))
		}
	}
	if len(files2) <= len(files) {
		t.Errorf("the second backup added nothing on the server: %d files before, %d after", len(files), len(files2))
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("odfb unmount: exit %d: %s", code, errs)
	}
	if err := <-m.exited; err != nil {
		t.Errorf("mount exit: %v\n%s", err, m.logText())
	}
	t.Logf("after the second backup: %d repository files on the server; whole test %s", len(files2), time.Since(started).Round(time.Millisecond))
}

// makeBackupSource writes a tree of 30 seeded files (4 KiB to 8 MiB) in
// a few folders, one name with spaces and one with a colon.
func makeBackupSource(t *testing.T, root string) (files int, total int64) {
	sizes := map[string]int{
		"media/big.bin":               8 << 20,
		"media/clip one.mp4":          3<<20 + 17,
		"media/photo:2024-05-01.jpg":  1<<20 + 5,
		"docs/notes 2024.txt":         4 << 10,
		"docs/report.pdf":             600 << 10,
		"docs/archive/old report.doc": 90 << 10,
	}
	for i := 0; i < 12; i++ {
		sizes[fmt.Sprintf("src/pkg%d/file%02d.go", i%3, i)] = 4<<10 + i*3001
	}
	for i := 0; i < 12; i++ {
		sizes[fmt.Sprintf("data/set %d.csv", i)] = 16<<10 + i*40013
	}
	return writeTree(t, root, sizes)
}

// writeTree writes a file of seeded bytes for each path in sizes (slash
// separated, below root) and returns how many files and bytes it wrote.
func writeTree(t *testing.T, root string, sizes map[string]int) (files int, total int64) {
	t.Helper()
	seed := int64(1)
	for _, p := range sortedKeys(sizes) {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, seededBytes(sizes[p], seed), 0o644); err != nil {
			t.Fatal(err)
		}
		seed++
		files++
		total += int64(sizes[p])
	}
	return files, total
}

// runTool runs prog with env added to odfb's environment, in dir ("" for
// the current one), and fails the test unless it exits 0; it returns
// stdout. Secrets reach the tools only through files named in env.
func runTool(t *testing.T, prog string, env []string, dir string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(prog), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// serverRepo returns the files under libDir as spemu's root directory
// holds them ("keys/abc…" → content).
func serverRepo(t *testing.T, srv *spemu.Server, libDir string) map[string][]byte {
	t.Helper()
	root := filepath.Join(srv.Root(), filepath.FromSlash(libDir))
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		data, err := srv.ReadFile(path.Join(libDir, rel))
		if err != nil {
			return err
		}
		out[rel] = data
		return nil
	})
	if err != nil {
		t.Fatalf("reading the repository on the server: %v", err)
	}
	return out
}

// treeSums maps every file and folder under root (slash paths) to its
// SHA-256, or "dir" for a folder.
func treeSums(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[filepath.ToSlash(rel)] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
