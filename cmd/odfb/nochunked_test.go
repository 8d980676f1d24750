package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestNoChunkedUploadGoesToLostFound: a server whose REST API has no
// chunked upload (SharePoint 2013: "Cannot find resource for the request
// StartUpload") gets a file over --put-limit once; it is not retried for
// ever but kept in lost+found with a reason, odfb sync says so, and no
// empty file is left on the server.
func TestNoChunkedUploadGoesToLostFound(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "cookie", NoChunkedUpload: true})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	m := startMount(t, bin, srv, mnt, filepath.Join(dir, "cache"), "--write-back", "1h", "--put-limit", "64K")
	data := seededBytes(200<<10, 7)
	if err := os.WriteFile(filepath.Join(mnt, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runOdfb(t, bin, "sync", mnt)
	if code != exitcodes.Pending || !strings.Contains(errs, "lost+found") {
		t.Fatalf("sync: exit %d, %s\n%s", code, errs, m.logText())
	}
	code, out, _ := runOdfb(t, bin, "status", mnt)
	if code != 0 || !strings.Contains(out, "lost+found: 1") || !strings.Contains(out, "/big.bin") || !strings.Contains(out, "no chunked upload") {
		t.Errorf("status (exit %d):\n%s", code, out)
	}
	if !strings.Contains(m.logText(), "Cannot find resource for the request StartUpload") {
		t.Errorf("the mount's log does not name the server's answer:\n%s", m.logText())
	}
	if _, err := srv.ReadFile("/big.bin"); err == nil {
		t.Error("a file was left on the server")
	}
	if n := countStarts(srv); n != 1 {
		t.Errorf("StartUpload requests = %d, want 1 (no retries)", n)
	}
	lf := filepath.Join(dir, "cache", "lost+found")
	if got, err := os.ReadFile(filepath.Join(lf, "big.bin")); err != nil || len(got) != len(data) {
		t.Errorf("lost+found copy: %d bytes, %v", len(got), err)
	}
	if why, err := os.ReadFile(filepath.Join(lf, "big.bin.reason")); err != nil || !strings.Contains(string(why), "no chunked upload") {
		t.Errorf("lost+found reason %q, %v", why, err)
	}
}
