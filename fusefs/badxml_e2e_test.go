package fusefs_test

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestBrokenXMLFromServer: a server that answers PROPFIND with a document
// that is not XML (a truncated multistatus, as a proxy that cuts answers
// sends) costs nothing that was known: a folder listed before is still
// listed, from the store, with a warning naming it; a folder never listed
// fails with EIO and a log line naming it and the reason; once the server
// answers properly again, the listing is fresh.
func TestBrokenXMLFromServer(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"known", "cold"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, "a.txt"), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var broken atomic.Bool
	var brokenAnswers atomic.Int32
	_, lib := startBehind(t, spemu.Config{Root: root}, func(w http.ResponseWriter, r *http.Request) bool {
		if broken.Load() && r.Method == "PROPFIND" && r.Header.Get("Depth") == "1" {
			brokenAnswers.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusMultiStatus)
			w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/personal/x</D:hr`))
			return true
		}
		return false
	})
	logs := &testenv.Buffer{T: t}
	const ttl = 20 * time.Millisecond
	// Without the change log, which would (rightly) confirm /known with
	// no PROPFIND: this is about a folder's own revalidation.
	m := fstest.Mount(t, fstest.Config{Remote: fstest.DavClient(t, lib, nil), Library: lib, DirCacheTime: ttl, NoChangeLog: true,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	names := func(d string) ([]string, error) {
		ents, err := os.ReadDir(filepath.Join(m.Dir, d))
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out, err
	}
	if got, err := names("known"); err != nil || strings.Join(got, ",") != "a.txt" {
		t.Fatalf("known before: %v %v", got, err)
	}

	broken.Store(true)
	// The kernel keeps entries for at most the listing's lifetime (capped
	// at 1 s); wait until it asks odfb again, which asks the server.
	deadline := time.Now().Add(10 * time.Second)
	for brokenAnswers.Load() == 0 && time.Now().Before(deadline) {
		if got, err := names("known"); err != nil || strings.Join(got, ",") != "a.txt" {
			t.Fatalf("known while the server sends broken XML: %v %v; want the stored listing", got, err)
		}
		time.Sleep(ttl)
	}
	if brokenAnswers.Load() == 0 {
		t.Fatal("the mount never asked the server again")
	}
	if got, err := names("known"); err != nil || strings.Join(got, ",") != "a.txt" {
		t.Fatalf("known while the server sends broken XML: %v %v; want the stored listing", got, err)
	}
	if _, err := names("cold"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("cold folder with broken XML: %v, want EIO", err)
	}
	out := logs.String()
	for _, want := range []string{"path=/known", "path=/cold", "not a DAV multistatus"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	broken.Store(false)
	if err := os.WriteFile(filepath.Join(root, "known", "b.txt"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		got, err := names("known")
		if err == nil && strings.Join(got, ",") == "a.txt,b.txt" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("known after the server recovered: %v %v", got, err)
		}
		time.Sleep(ttl)
	}
	if got, err := names("cold"); err != nil || strings.Join(got, ",") != "a.txt" {
		t.Fatalf("cold after the server recovered: %v %v", got, err)
	}
}
