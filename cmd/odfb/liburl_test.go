package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestMountBrowserURL: odfb mount takes a library view's address as
// copied from the browser and mounts the library (its cache directory is
// the library's, as if its URL had been given); a list's or a page's
// address is refused with exit 2 and what to copy instead.
func TestMountBrowserURL(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	bin := buildOdfb(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "cookie"})
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	cookie := cookieFileFor(t, srv)

	view := srv.LibraryURL() + "/Forms/AllItems.aspx?viewid=1b2c&id=%2Fx"
	code, out := runCmd(t, nil, bin, "mount", "--daemon", "--cookie-file", cookie, view, mnt)
	if code != 0 {
		t.Fatalf("odfb mount %s: exit %d %s", view, code, out)
	}
	pid := daemonPID(t, mnt)
	if b, err := os.ReadFile(filepath.Join(mnt, "hello.txt")); err != nil || string(b) != "hello\n" {
		t.Errorf("read: %q %v", b, err)
	}
	if !strings.Contains(out, "library="+srv.LibraryURL()) {
		t.Errorf("no log line naming the library: %q", out)
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: %d %s", code, errs)
	}
	waitGone(t, pid)
	if _, err := os.Stat(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "odfb", filepath.Base(cacheDirFor(srv.LibraryURL())), "meta.db")); err != nil {
		t.Errorf("the cache is not the library's: %v", err)
	}

	for _, c := range []struct{ url, want string }{
		{srv.URL() + "/personal/alice_contoso_com/Lists/Tasks/AllItems.aspx", "is a list, not a document library"},
		{srv.URL() + "/:f:/s/team/EtAbCdEf?e=token", "hides the library behind a token"},
	} {
		code, out := runCmd(t, nil, bin, "mount", "--cookie-file", cookie, c.url, mnt)
		if code != exitcodes.Usage || !strings.Contains(out, c.want) || strings.Contains(out, "e=token") {
			t.Errorf("%s: exit %d %q; want %d and %q", c.url, code, out, exitcodes.Usage, c.want)
		}
	}
}

// cacheDirFor is the default cache directory of a library URL.
func cacheDirFor(u string) string { return cache.DefaultDir(u) }
