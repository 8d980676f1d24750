package fusefs_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestBadUserInput (issue 13, item 4): every name SharePoint refuses,
// paths of 400 and 401 characters, a file over 250 GB, names that
// collide case-insensitively and a folder renamed into its own subtree.
// Each gets its documented errno (docs/mount.md), the refusals a log
// line naming the file, and nothing of a refused operation reaches the
// server (spemu's request log holds no write for it; its tree and
// lost+found show nothing half-done).
func TestBadUserInput(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"dir", "a/b"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "README.TXT"), []byte("readme"), 0o644)
	os.WriteFile(filepath.Join(root, "existing.bin"), []byte("existing"), 0o644)
	logs := &testenv.Buffer{T: t}
	srvCfg := spemu.Config{Root: root}
	prefix := len(spemu.DefaultSite + "/" + spemu.DefaultLibrary) // 37 characters
	m, srv := fstest.MountSpemu(t, srvCfg, fstest.Config{FS: fusefs.Options{PrefixChars: prefix},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	at := func(p string) string { return filepath.Join(m.Dir, p) }

	create := func(p string) error {
		fd, err := syscall.Open(at(p), syscall.O_CREAT|syscall.O_WRONLY|syscall.O_EXCL, 0o644)
		if err == nil {
			syscall.Close(fd)
		}
		return err
	}
	mkdir := func(p string) error { return syscall.Mkdir(at(p), 0o755) }
	rename := func(a, b string) error { return syscall.Rename(at(a), at(b)) }

	long := strings.Repeat("d", 200)                             // a folder: 37+1+200 = 238 characters
	fits := long + "/" + strings.Repeat("n", 400-prefix-2-200)   // 400 characters with the library's part
	over := long + "/" + strings.Repeat("o", 400-prefix-2-200+1) // 401
	type tc struct {
		what   string
		do     func() error
		want   syscall.Errno // 0: success
		logged string        // a log line must hold this ("" : none needed)
		gone   string        // a name that must never reach the server
	}
	var cases []tc
	for _, n := range []string{"CON", "prn", "Aux", "NUL", "COM0", "com9", "LPT1", "lpt0", "desktop.ini", ".lock",
		"~$report.docx", "x_vti_y", " lead", "trail ", "trail.", "tab\tname", "nl\nname", "del\x7fname"} {
		// slog quotes control characters; the part before one is enough.
		logged, _, _ := strings.Cut(strings.TrimSpace(n), "\x7f")
		cases = append(cases, tc{"create " + n, func() error { return create(n) }, syscall.EINVAL, logged, n})
	}
	for _, n := range []string{"forms", "~folder", "COM5", "dots..."} {
		cases = append(cases, tc{"mkdir " + n, func() error { return mkdir(n) }, syscall.EINVAL, n, n})
	}
	cases = append(cases,
		tc{"rename to CON", func() error { return rename("existing.bin", "dir/CON") }, syscall.EINVAL, "CON", "CON"},
		tc{"rename to trail.", func() error { return rename("existing.bin", "trail2.") }, syscall.EINVAL, "trail2.", "trail2."},
		tc{"rename a folder to ~x", func() error { return rename("dir", "~dir") }, syscall.EINVAL, "~dir", "~dir"},
		tc{"name of 256 bytes", func() error { return create(strings.Repeat("x", 256)) }, syscall.ENAMETOOLONG, "", strings.Repeat("x", 256)},
		tc{"mkdir the 200-character folder", func() error { return mkdir(long) }, 0, "", ""},
		tc{"path of 400 characters", func() error { return create(fits) }, 0, "", ""},
		tc{"path of 401 characters", func() error { return create(over) }, syscall.ENAMETOOLONG, strings.Repeat("o", 50), filepath.Base(over)},
		tc{"mkdir at 401 characters", func() error { return mkdir(over) }, syscall.ENAMETOOLONG, strings.Repeat("o", 50), filepath.Base(over)},
		tc{"rename to 401 characters", func() error { return rename("existing.bin", over+"o") }, syscall.ENAMETOOLONG, strings.Repeat("o", 50), filepath.Base(over) + "o"},
		tc{"mapped characters", func() error { return create(`q"*:<>?\|.txt`) }, 0, "", ""},
		tc{"O_EXCL create of another case", func() error { return create("readme.txt") }, syscall.EEXIST, "", "readme.txt"},
		tc{"mkdir of another case", func() error { return mkdir("DIR") }, syscall.EEXIST, "", "DIR"},
		tc{"mkdir over a file of another case", func() error { return mkdir("Readme.Txt") }, syscall.EEXIST, "", "Readme.Txt"},
		tc{"folder into its own subtree", func() error { return rename("a", "a/b/a2") }, syscall.EINVAL, "", "a2"},
		tc{"folder into its own subtree, another case", func() error { return rename("a", "A/b/a3") }, syscall.EINVAL, "", "a3"},
		tc{"truncate to 251 GiB", func() error { return os.Truncate(at("existing.bin"), 251<<30) }, syscall.EFBIG, "existing.bin", ""},
		tc{"write at 251 GiB", func() error {
			f, err := os.OpenFile(at("existing.bin"), os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte("x"), 251<<30)
			return err
		}, syscall.EFBIG, "existing.bin", ""},
	)
	for _, c := range cases {
		before := len(logs.String())
		err := c.do()
		var got syscall.Errno
		if err != nil && !errors.As(err, &got) {
			t.Errorf("%s: %v is not an errno", c.what, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: %v, want %v", c.what, err, c.want)
			continue
		}
		if c.logged != "" && !strings.Contains(logs.String()[before:], strings.NewReplacer("\t", `\t`, "\n", `\n`).Replace(c.logged)) {
			t.Errorf("%s: no log line names %q:\n%s", c.what, c.logged, logs.String()[before:])
		}
	}
	syncMount(t, m)

	// Nothing refused reached the server: no write request names it, and
	// the tree is exactly what the accepted operations made.
	for _, r := range srv.Requests() {
		if r.Method == "GET" || r.Method == "HEAD" || r.Method == "PROPFIND" || r.Method == "OPTIONS" {
			continue
		}
		for _, c := range cases {
			for _, seg := range strings.Split(r.Path, "/") {
				if c.gone != "" && strings.EqualFold(seg, c.gone) {
					t.Errorf("%s: %s %s reached the server", c.what, r.Method, r.Path)
				}
			}
		}
	}
	var tree []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root || strings.Contains(p, "_vti_pvt") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if len(rel) > 60 {
			rel = rel[:20] + "…" + rel[len(rel)-10:]
		}
		tree = append(tree, rel)
		return nil
	})
	sort.Strings(tree)
	want := []string{"README.TXT", "a", "a/b", "dddddddddddddddddddd…dddddddddd", "dddddddddddddddddddd…nnnnnnnnnn", "dir", "existing.bin", `q＂＊：＜＞？＼｜.txt`}
	if strings.Join(tree, "|") != strings.Join(want, "|") {
		t.Errorf("server tree:\n%s\nwant:\n%s", strings.Join(tree, "\n"), strings.Join(want, "\n"))
	}
	if data, _ := srv.ReadFile("/existing.bin"); string(data) != "existing" {
		t.Errorf("existing.bin on the server: %q", data)
	}
	if lf := m.Cache.LostFound(); len(lf) != 0 {
		t.Errorf("lost+found: %+v", lf)
	}
}
