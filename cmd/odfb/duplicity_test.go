package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestDuplicityBackupRestore is odfb's seed use case (peers.md, "The
// starting point"): duplicity backs up to a SharePoint library, here
// through a real `odfb mount` of an in-process spemu and duplicity's
// file:// backend, unencrypted (--no-encryption: no gpg, no agent). A
// full backup in 2 MB volumes and an incremental one after changing two
// files; after each, `odfb sync` and the server side: every file
// duplicity wrote is there with the bytes the mount shows, uploaded by
// one PUT under its final name, no LOCK, no MOVE, nothing in
// lost+found. Then a remount with an empty odfb cache and a fresh
// duplicity archive dir, so that everything comes from the server:
// collection-status (one chain, a full and an incremental set), `verify
// --compare-data` against the source, and a restore compared with the
// source by SHA-256.
func TestDuplicityBackupRestore(t *testing.T) {
	testenv.NeedFUSE(t)
	duplicity := testenv.LookPath(t, "duplicity")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie"})
	lib, err := url.Parse(srv.LibraryURL())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	nFiles, nBytes := makeDuplicitySource(t, src)
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	// duplicity's state stays in the test's directory, not the user's home.
	env := []string{
		"HOME=" + dir,
		"XDG_CACHE_HOME=" + filepath.Join(dir, "xdg-cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "xdg-config"),
		"TMPDIR=" + tmp,
		"PASSPHRASE=",
	}
	const targetLib = "/backups/dup" // the backup's folder in the library
	target := "file://" + filepath.Join(mnt, filepath.FromSlash(targetLib))
	common := func(archive string) []string {
		return []string{"--no-encryption", "--archive-dir", archive, "--name", "odfbtest"}
	}
	started := time.Now()

	m := startMount(t, bin, srv, mnt, filepath.Join(dir, "cache-1"))
	if err := os.MkdirAll(filepath.Join(mnt, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	archive1 := filepath.Join(dir, "archive-1")
	fullStart := time.Now()
	runTool(t, duplicity, env, "", append(append([]string{"full"}, common(archive1)...), "--volsize", "2", src, target)...)
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Fatalf("odfb sync after the full backup: exit %d: %s\n%s", code, errs, m.logText())
	}
	full := checkDuplicityTarget(t, srv, bin, lib.Path, mnt, dir, targetLib, nil)
	volumes := 0
	for p := range full {
		if strings.Contains(p, ".difftar") {
			volumes++
		}
	}
	if volumes < 3 {
		t.Errorf("the full backup of %d bytes in 2 MB volumes has %d volumes on the server: %v", nBytes, volumes, sortedKeys(full))
	}
	// duplicity keeps a copy of the manifest and signatures in its
	// archive dir: the server holds the same bytes.
	compareArchive(t, archive1, full)
	t.Logf("full backup of %d files (%d bytes): %d files on the server (%d volumes)", nFiles, nBytes, len(full), volumes)

	// The incremental backup's file names carry the full backup's time
	// and its own to the second: let the clock move past the full one.
	for time.Now().Unix() <= fullStart.Unix() {
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(src, "docs", "notes 2024.txt"), seededBytes(5000, 901), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "media", "big.bin"), seededBytes(6<<20, 902), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	runTool(t, duplicity, env, "", append(append([]string{"incremental"}, common(archive1)...), "--volsize", "2", src, target)...)
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Fatalf("odfb sync after the incremental backup: exit %d: %s\n%s", code, errs, m.logText())
	}
	all := checkDuplicityTarget(t, srv, bin, lib.Path, mnt, dir, targetLib, full)
	incr := 0
	for p := range all {
		if full[p] == nil {
			incr++
			if !strings.Contains(p, "duplicity-inc.") && !strings.Contains(p, "duplicity-new-signatures.") {
				t.Errorf("the incremental backup wrote %s", p)
			}
		}
	}
	if incr < 3 { // a manifest, a signature file, at least one volume
		t.Errorf("the incremental backup added %d files on the server: %v", incr, sortedKeys(all))
	}
	compareArchive(t, archive1, all)
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("odfb unmount: exit %d: %s", code, errs)
	}
	if err := <-m.exited; err != nil {
		t.Fatalf("mount exit: %v\n%s", err, m.logText())
	}

	// An empty odfb cache and an empty archive dir: duplicity fetches
	// its manifests and signatures, then the volumes, from the server.
	srv.ResetRequests()
	m = startMount(t, bin, srv, mnt, filepath.Join(dir, "cache-2"))
	archive2 := filepath.Join(dir, "archive-2")
	out := runTool(t, duplicity, env, "", append(append([]string{"collection-status"}, common(archive2)...), target)...)
	if !strings.Contains(out, "Found primary backup chain") ||
		!regexp.MustCompile(`(?m)^\s*Full\s`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\s*Incremental\s`).MatchString(out) ||
		strings.Contains(out, "Found 1 secondary") || !strings.Contains(out, "No orphaned or incomplete backup sets found") {
		t.Errorf("duplicity collection-status: want one chain with a full and an incremental set:\n%s", out)
	}
	runTool(t, duplicity, env, "", append(append([]string{"verify", "--compare-data"}, common(archive2)...), target, src)...)
	restored := filepath.Join(dir, "restored")
	runTool(t, duplicity, env, "", append(append([]string{"restore"}, common(archive2)...), target, restored)...)
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
	counts := map[string]int{}
	gets := 0
	for _, r := range srv.Requests() {
		if changeLogCall(r.Path) {
			continue
		}
		counts[r.Method]++
		if r.Method == "GET" && r.Status/100 == 2 {
			gets++
		}
		if r.Method != "GET" && r.Method != "PROPFIND" && r.Method != "HEAD" && r.Method != "OPTIONS" {
			t.Errorf("%s %s while duplicity only reads", r.Method, r.Path)
		}
	}
	if gets == 0 {
		t.Error("verify and restore after a remount with an empty cache sent no GET")
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("odfb unmount: exit %d: %s", code, errs)
	}
	if err := <-m.exited; err != nil {
		t.Errorf("mount exit: %v\n%s", err, m.logText())
	}
	t.Logf("after the incremental backup: %d files on the server; verify and restore: %d requests %v; whole test %s",
		len(all), sum(counts), counts, time.Since(started).Round(time.Millisecond))
}

// checkDuplicityTarget checks the backup folder on the server after
// `odfb sync`: the mount and the server hold the same files with the
// same bytes; each file that is not in before was uploaded by exactly
// one PUT under its own name (the request log since the last reset),
// the files in before are still there and were not uploaded again;
// no GET, LOCK, MOVE or DELETE, no chunked upload, nothing queued or in
// lost+found.
// It returns the server's files.
func checkDuplicityTarget(t *testing.T, srv *spemu.Server, bin, libPath, mnt, dir, targetLib string, before map[string][]byte) map[string][]byte {
	t.Helper()
	reqs := srv.Requests() // before the reads through the mount below
	files := serverRepo(t, srv, targetLib)
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(mnt, filepath.FromSlash(targetLib+"/"+p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: the mount shows %d bytes (%v), the server holds %d", p, len(got), err, len(want))
		}
	}
	mountRoot := filepath.Join(mnt, filepath.FromSlash(targetLib))
	mounted := map[string]bool{}
	filepath.WalkDir(mountRoot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(mountRoot, p)
			mounted[filepath.ToSlash(rel)] = true
		}
		return err
	})
	if len(mounted) != len(files) {
		t.Errorf("the mount shows %d backup files, the server holds %d:\nmount  %v\nserver %v",
			len(mounted), len(files), sortedKeys(mounted), sortedKeys(files))
	}
	for p, want := range before {
		if !bytes.Equal(files[p], want) {
			t.Errorf("%s changed or vanished on the server (%d bytes, had %d)", p, len(files[p]), len(want))
		}
	}

	prefix := libPath + targetLib + "/"
	puts := map[string]int{}
	counts := map[string]int{}
	for _, r := range reqs {
		if changeLogCall(r.Path) {
			continue
		}
		counts[r.Method]++
		switch {
		case r.Method == "GET":
			t.Errorf("GET %s: duplicity reads nothing back during a backup (its archive dir has the metadata)", r.Path)
		case r.Method == "LOCK" || r.Method == "UNLOCK":
			t.Errorf("%s %s: odfb must not take WebDAV locks", r.Method, r.Path)
		case r.Method == "MOVE" || r.Method == "COPY" || r.Method == "DELETE":
			t.Errorf("%s %s: duplicity writes each file once under its final name", r.Method, r.Path)
		case r.Method == "POST" && strings.Contains(r.Path, "StartUpload"):
			t.Errorf("chunked upload %s: no backup file exceeds the default --put-limit", r.Path)
		case r.Method == "PUT":
			if !strings.HasPrefix(r.Path, prefix) {
				t.Errorf("PUT outside the backup folder: %s", r.Path)
				continue
			}
			puts[strings.TrimPrefix(r.Path, prefix)]++
		}
	}
	for p, n := range puts {
		switch {
		case files[p] == nil:
			t.Errorf("PUT %s: not a file of the backup (a temporary name uploaded?)", p)
		case before[p] != nil:
			t.Errorf("%s uploaded again (%d PUTs) by a later backup", p, n)
		case n != 1:
			t.Errorf("%s uploaded %d times; want once", p, n)
		}
	}
	for p := range files {
		if before[p] == nil && puts[p] == 0 {
			t.Errorf("%s is on the server without a PUT of its own", p)
		}
	}
	if code, out, _ := runOdfb(t, bin, "status", mnt); code != 0 || !strings.Contains(out, "uploads: 0 queued") ||
		strings.Contains(out, "lost+found") || strings.Contains(out, "conflict") {
		t.Errorf("odfb status after the sync (exit %d):\n%s", code, out)
	}
	for _, c := range []string{"cache-1", "cache-2"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, c, "lost+found")); len(ents) != 0 {
			t.Errorf("%s/lost+found holds %d entries", c, len(ents))
		}
	}
	t.Logf("%d backup files on the server, %d PUTs, %d requests %v", len(files), sum(puts), len(reqs), counts)
	return files
}

// compareArchive checks that the manifests and signature files in
// duplicity's archive dir (its local copy) are on the server, identical.
func compareArchive(t *testing.T, archive string, server map[string][]byte) {
	t.Helper()
	n := 0
	filepath.WalkDir(archive, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "duplicity-") {
			return err
		}
		local, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		if !bytes.Equal(server[d.Name()], local) {
			t.Errorf("%s: the archive dir holds %d bytes, the server %d", d.Name(), len(local), len(server[d.Name()]))
		}
		return nil
	})
	if n == 0 {
		t.Errorf("no manifest or signature file in duplicity's archive dir %s", archive)
	}
}

// makeDuplicitySource writes a tree of 20 seeded files (4 KiB to 6 MiB)
// in a few folders, names with spaces and one with a colon.
func makeDuplicitySource(t *testing.T, root string) (files int, total int64) {
	sizes := map[string]int{
		"media/big.bin":               6 << 20,
		"media/clip one.mp4":          1<<20 + 17,
		"media/photo:2024-05-01.jpg":  300<<10 + 5,
		"docs/notes 2024.txt":         4 << 10,
		"docs/report.pdf":             200 << 10,
		"docs/archive/old report.doc": 90 << 10,
	}
	for i := 0; i < 7; i++ {
		sizes[fmt.Sprintf("src/pkg%d/file%02d.go", i%3, i)] = 4<<10 + i*3001
	}
	for i := 0; i < 7; i++ {
		sizes[fmt.Sprintf("data/set %d.csv", i)] = 16<<10 + i*40013
	}
	return writeTree(t, root, sizes)
}

// changeLogCall reports the mount's own reads of the change log (its
// token, the form digest that comes with it, GetChanges): not requests
// the tool under test caused, and they change nothing.
func changeLogCall(p string) bool {
	return strings.HasSuffix(p, "/_api/contextinfo") || strings.HasSuffix(p, "/CurrentChangeToken") || strings.HasSuffix(p, "/GetChanges")
}
