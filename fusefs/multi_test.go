package fusefs_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestMountLibraries mounts two libraries and a failed one under one
// mountpoint: each library is a folder reading and writing its own
// server, inode numbers do not collide (both roots would be 1 alone), a
// rename across libraries is EXDEV (mv copies), and the failed one's
// folder holds the error while the others work.
func TestMountLibraries(t *testing.T) {
	testenv.NeedFUSE(t)
	var libs []fusefs.Library
	var servers []*spemu.Server
	for _, name := range []string{"Team", "Mine"} {
		root := t.TempDir()
		os.WriteFile(filepath.Join(root, "same.txt"), []byte("from "+name), 0o644)
		srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "none"})
		servers = append(servers, srv)
		c, err := cache.Open(cache.Options{Dir: t.TempDir(), Library: srv.LibraryURL(), Remote: fstest.DavClient(t, srv.LibraryURL(), nil),
			Logger: fstest.Logger(t, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StartWrites(cache.WriteOptions{SyncUpload: true}); err != nil {
			t.Fatal(err)
		}
		libs = append(libs, fusefs.Library{Name: name, Cache: c})
	}
	libs = append(libs, fusefs.Library{Name: "Gone", Err: errors.New("403 FORBIDDEN: no permission")})
	mnt := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(mnt, 0o755)
	srv, err := fusefs.MountLibraries(mnt, libs, fusefs.Options{Logger: fstest.Logger(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		srv.Wait()
		for _, l := range libs {
			if l.Cache != nil {
				l.Cache.Close()
			}
		}
	})

	ents, err := os.ReadDir(mnt)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(got)
	if err != nil || strings.Join(got, " ") != "Gone Mine Team" {
		t.Fatalf("top folder: %v %v", got, err)
	}
	inos := map[uint64]string{}
	for _, name := range []string{"", "Team", "Mine", "Team/same.txt", "Mine/same.txt"} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(mnt, name), &st); err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if other, dup := inos[st.Ino]; dup {
			t.Errorf("%q and %q share inode %d", name, other, st.Ino)
		}
		inos[st.Ino] = name
	}
	for _, name := range []string{"Team", "Mine"} {
		if b, err := os.ReadFile(filepath.Join(mnt, name, "same.txt")); err != nil || string(b) != "from "+name {
			t.Errorf("%s/same.txt: %q %v", name, b, err)
		}
	}
	if err := os.WriteFile(filepath.Join(mnt, "Mine", "new.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := servers[1].ReadFile("/new.txt"); err != nil || string(b) != "mine" {
		t.Errorf("Mine/new.txt on Mine's server: %q %v", b, err)
	}
	if _, err := servers[0].ReadFile("/new.txt"); err == nil {
		t.Error("Mine/new.txt reached Team's server")
	}
	if err := os.Rename(filepath.Join(mnt, "Mine", "new.txt"), filepath.Join(mnt, "Team", "new.txt")); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("rename across libraries: %v, want EXDEV", err)
	}
	b, err := os.ReadFile(filepath.Join(mnt, "Gone", fusefs.ErrorFile))
	if err != nil || !strings.Contains(string(b), "403 FORBIDDEN: no permission") || !strings.Contains(string(b), "Gone") {
		t.Errorf("Gone/%s: %q %v", fusefs.ErrorFile, b, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "Gone", "x"), nil, 0o644); err == nil {
		t.Error("created a file in a failed library's folder")
	}
	if err := os.Mkdir(filepath.Join(mnt, "New"), 0o755); err == nil {
		t.Error("made a folder at the top of a mount of libraries")
	}
}
