package fusefs_test

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestHostileServer (issue 13, item 5): each of spemu's hostile switches
// through a real mount. A listing the client must refuse fails with EIO
// and a log line naming the folder; one it can use shows exactly the
// files that exist, with their true sizes; a read never returns bytes
// that are not the file's (EIO instead); nothing is written outside the
// cache directory.
func TestHostileServer(t *testing.T) {
	root := t.TempDir()
	content := map[string][]byte{"a.txt": []byte("hello world"), "b.txt": bytes.Repeat([]byte("0123456789"), 30000)}
	cases := []struct {
		name    string
		h       spemu.Hostile
		refused bool // the listing fails (EIO)
		badRead bool // reading a.txt/b.txt fails (EIO)
	}{
		{"escaping-hrefs", spemu.Hostile{EscapingHrefs: true}, false, false},
		{"duplicate-entries", spemu.Hostile{DuplicateEntries: true}, false, false},
		{"wrong-types", spemu.Hostile{WrongTypes: true}, true, false},
		{"negative-sizes", spemu.Hostile{NegativeSizes: true}, true, false},
		{"far-dates", spemu.Hostile{FarDates: true}, false, false},
		{"huge-multistatus", spemu.Hostile{HugeMultistatus: 1 << 20}, false, false},
		{"truncated-bodies", spemu.Hostile{TruncatedBodies: true}, true, true},
		{"wrong-content-range", spemu.Hostile{WrongContentRange: true}, false, true},
		{"short-content-range", spemu.Hostile{ShortContentRange: true}, false, true},
		{"long-bodies", spemu.Hostile{LongBodies: true}, false, false},
	}
	for _, c := range cases {
		for n, data := range content {
			p := filepath.Join(root, c.name, n)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	logs := &testenv.Buffer{T: t}
	work := t.TempDir()
	cacheDir := filepath.Join(work, "cache")
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{CacheDir: cacheDir, DirCacheTime: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case's folder is first listed with the switch on, and its
			// files first read with it on (cold: nothing cached yet).
			c.h.PathContains = "/" + c.name
			srv.SetHostile(c.h)
			defer srv.SetHostile(spemu.Hostile{})
			dir := filepath.Join(m.Dir, c.name)
			ents, err := os.ReadDir(dir)
			if c.refused {
				if !errors.Is(err, syscall.EIO) {
					t.Fatalf("listing: %v %v, want EIO", ents, err)
				}
				if !strings.Contains(logs.String(), c.name) {
					t.Errorf("no log line names %s", c.name)
				}
				// The folder lists properly once the server does.
				srv.SetHostile(spemu.Hostile{})
				if ents, err = os.ReadDir(dir); err != nil {
					t.Fatalf("listing after the server recovered: %v", err)
				}
				srv.SetHostile(c.h)
			} else if err != nil {
				t.Fatalf("listing: %v", err)
			}
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
				info, err := e.Info()
				if err != nil {
					t.Fatalf("stat %s: %v", e.Name(), err)
				}
				if want, ok := content[e.Name()]; !ok || info.Size() != int64(len(want)) {
					t.Errorf("%s: size %d, want %d", e.Name(), info.Size(), len(want))
				}
				if c.name == "far-dates" && info.ModTime().Year() != 1601 && info.ModTime().Year() != 9999 {
					t.Errorf("%s: mtime %v, want the server's far date", e.Name(), info.ModTime())
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != "a.txt,b.txt" {
				t.Fatalf("listing shows %q, want a.txt,b.txt", got)
			}
			for n, want := range content {
				data, err := os.ReadFile(filepath.Join(dir, n))
				switch {
				case c.badRead && err == nil:
					t.Errorf("%s read %d bytes without error (equal: %v)", n, len(data), bytes.Equal(data, want))
				case c.badRead && !errors.Is(err, syscall.EIO):
					t.Errorf("%s: %v, want EIO", n, err)
				case !c.badRead && err != nil:
					t.Errorf("%s: %v", n, err)
				case err == nil && !bytes.Equal(data, want):
					t.Errorf("%s: %d bytes that are not the file's", n, len(data))
				}
			}
			// The root shows only the case folders.
			if ents, err := os.ReadDir(m.Dir); err != nil || len(ents) != len(cases) {
				t.Errorf("root: %d entries, %v", len(ents), err)
			}
		})
	}
	// Nothing named by a hostile href exists anywhere near the cache.
	filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !strings.HasPrefix(p, cacheDir) && p != work {
			t.Errorf("%s written outside the cache directory", p)
		}
		if err == nil && strings.ContainsAny(d.Name(), "\x00\n") || strings.Contains(d.Name(), "escaped") || strings.Contains(d.Name(), "evil") {
			t.Errorf("%s: a name from a hostile href on disk", p)
		}
		return nil
	})
	for _, p := range []string{"/etc/escaped.txt", "/escaped.txt", "/escaped2.txt", filepath.Join(filepath.Dir(root), "escaped.txt")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
}
