package fstest

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote"
)

// Config describes a test mount.
type Config struct {
	Remote remote.Remote
	// CacheDir keeps the cache across mounts (remount tests); default a
	// fresh t.TempDir().
	CacheDir string
	// Library names the library for the cache; default "test".
	Library      string
	DirCacheTime time.Duration
	CacheSize    int64
	FS           fusefs.Options
	// Write configures the write side (write-back, put limit, …); it is
	// off for a read-only mount (FS.ReadOnly).
	Write cache.WriteOptions
	// Logger; default one that writes to t.Log at Warn level.
	Logger *slog.Logger
	// PollInterval, NoChangeLog and ListAhead are cache.Options'.
	PollInterval time.Duration
	NoChangeLog  bool
	ListAhead    int
}

// Mounted is a live mount.
type Mounted struct {
	Dir      string // the mountpoint
	CacheDir string
	Cache    *cache.Cache
	Server   *fuse.Server
	done     bool
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logger returns a slog.Logger that writes to t.Log.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

// Mount mounts a filesystem over cfg.Remote at a fresh directory.
func Mount(t testing.TB, cfg Config) *Mounted {
	t.Helper()
	testenv.NeedFUSE(t)
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	if cfg.Library == "" {
		cfg.Library = "test"
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger(t, slog.LevelWarn)
	}
	c, err := cache.Open(cache.Options{Dir: cfg.CacheDir, Library: cfg.Library, Remote: cfg.Remote,
		DirCacheTime: cfg.DirCacheTime, CacheSize: cfg.CacheSize, Logger: cfg.Logger,
		PollInterval: cfg.PollInterval, NoChangeLog: cfg.NoChangeLog, ListAhead: cfg.ListAhead})
	if err != nil {
		t.Fatalf("cache.Open: %v", err)
	}
	if !cfg.FS.ReadOnly {
		if err := c.StartWrites(cfg.Write); err != nil {
			c.Close()
			t.Fatalf("cache.StartWrites: %v", err)
		}
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if cfg.FS.Logger == nil {
		cfg.FS.Logger = cfg.Logger
	}
	srv, err := fusefs.Mount(mnt, c, cfg.FS)
	if err != nil {
		c.Close()
		t.Fatalf("mount: %v", err)
	}
	m := &Mounted{Dir: mnt, CacheDir: cfg.CacheDir, Cache: c, Server: srv}
	t.Cleanup(func() { m.Unmount(t) })
	return m
}

// Unmount unmounts (lazily if busy), closes the cache and checks that the
// mount is gone. Calling it twice is fine.
func (m *Mounted) Unmount(t testing.TB) {
	t.Helper()
	if m.done {
		return
	}
	m.done = true
	if err := m.Server.Unmount(); err != nil {
		t.Errorf("unmount %s: %v; detaching", m.Dir, err)
		syscall.Unmount(m.Dir, syscall.MNT_DETACH)
	}
	m.Server.Wait()
	if err := m.Cache.Close(); err != nil {
		t.Errorf("cache close: %v", err)
	}
	if IsMounted(m.Dir) {
		t.Errorf("%s is still mounted after unmount", m.Dir)
		syscall.Unmount(m.Dir, syscall.MNT_DETACH)
	}
}

// IsMounted reports whether dir is a mountpoint in /proc/self/mountinfo.
func IsMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	return mountinfoHas(f, dir)
}

func mountinfoHas(r io.Reader, dir string) bool {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == dir {
			return true
		}
	}
	return false
}

func unescapeMountinfo(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}
