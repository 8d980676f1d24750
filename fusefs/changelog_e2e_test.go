package fusefs_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// changeTree builds 8 folders of 3 files (and one subfolder each).
func changeTree(t *testing.T) string {
	root := t.TempDir()
	for i := range 8 {
		for j := range 3 {
			p := filepath.Join(root, fmt.Sprintf("d%d", i), "sub", fmt.Sprintf("f%d.txt", j))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("d%d", i), fmt.Sprintf("f%d.txt", j)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("y"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// walkNames lists every path under dir (relative, sorted), as find does.
func walkNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			if _, err := d.Info(); err != nil { // stat, as find -type f does
				return err
			}
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	sort.Strings(out)
	return out
}

// requestsBy counts spemu's requests since the last reset by method and
// path ("PROPFIND /d3"), REST calls by their function.
func requestsBy(srv *spemu.Server) []string {
	lib := srv.Config().Site + "/" + srv.Config().Library
	var out []string
	for _, r := range srv.Requests() {
		p := r.Path
		if i := strings.LastIndex(p, "/_api/"); i >= 0 {
			p = p[strings.LastIndex(p, "/")+1:]
		} else {
			p = strings.TrimSuffix(strings.TrimPrefix(p, lib), "/")
		}
		out = append(out, r.Method+" "+p)
	}
	sort.Strings(out)
	return out
}

func waitPast(ttl time.Duration) { time.Sleep(ttl + ttl/4) }

// TestChangeLogRevalidation: after --dir-cache-time passes, one change
// query revalidates every listing; two changes by another client cost the
// query and a PROPFIND of each changed folder, and show.
func TestChangeLogRevalidation(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: changeTree(t)}, fstest.Config{DirCacheTime: ttl})
	cold := walkNames(t, m.Dir)
	if len(cold) != 8*(1+3+1+3) {
		t.Fatalf("cold walk: %d paths", len(cold))
	}

	waitPast(ttl)
	srv.ResetRequests()
	if got := walkNames(t, m.Dir); !slices.Equal(got, cold) {
		t.Fatalf("walk after expiry differs")
	}
	if got := requestsBy(srv); !slices.Equal(got, []string{"POST GetChanges"}) {
		t.Fatalf("walk after expiry, nothing changed: requests %v, want one GetChanges", got)
	}

	// Another client adds a file and deletes one.
	if err := srv.WriteFile("/d3/sub/new.txt", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Remove("/d6/f1.txt"); err != nil {
		t.Fatal(err)
	}
	waitPast(ttl)
	srv.ResetRequests()
	got := walkNames(t, m.Dir)
	want := slices.DeleteFunc(append(slices.Clone(cold), "/d3/sub/new.txt"), func(p string) bool { return p == "/d6/f1.txt" })
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after two changes: %v\nwant %v", got, want)
	}
	if reqs := requestsBy(srv); !slices.Equal(reqs, []string{"POST GetChanges", "PROPFIND /d3/sub", "PROPFIND /d6"}) {
		t.Fatalf("after two changes: requests %v, want GetChanges and a PROPFIND of each changed folder", reqs)
	}
}

// TestChangeLogRenamesAndMoves: folders renamed, moved out of and into
// folders by another client show at their new place and are gone from
// the old one; both parents are listed again.
func TestChangeLogRenamesAndMoves(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: changeTree(t)}, fstest.Config{DirCacheTime: ttl})
	walkNames(t, m.Dir)
	other := fstest.DavClient(t, srv.LibraryURL(), nil)
	ctx := context.Background()
	for _, mv := range [][2]string{{"/d1/sub", "/d2/moved"}, {"/d4/f0.txt", "/d5/f0 renamed.txt"}, {"/d7", "/d0/sub/d7"}} {
		if err := other.Move(ctx, mv[0], mv[1], false); err != nil {
			t.Fatal(err)
		}
	}
	waitPast(ttl)
	srv.ResetRequests()
	got := walkNames(t, m.Dir)
	for _, p := range []string{"/d2/moved/f2.txt", "/d5/f0 renamed.txt", "/d0/sub/d7/sub/f1.txt"} {
		if !slices.Contains(got, p) {
			t.Errorf("%s missing after the move", p)
		}
	}
	for _, p := range []string{"/d1/sub", "/d1/sub/f0.txt", "/d4/f0.txt", "/d7", "/d7/f0.txt"} {
		if slices.Contains(got, p) {
			t.Errorf("%s still shown after it moved away", p)
		}
	}
	for _, d := range []string{"PROPFIND /d1", "PROPFIND /d2", "PROPFIND /d4", "PROPFIND /d5", "PROPFIND /d0/sub"} {
		if !slices.Contains(requestsBy(srv), d) {
			t.Errorf("%s not listed again; requests %v", d, requestsBy(srv))
		}
	}
}

// TestChangeLogFallbacks: an expired token, a server without the change
// log and an answer not understood each fall back to revalidating every
// folder — the data is right, and the log is used again when it can be.
func TestChangeLogFallbacks(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	folders := 1 + 8*2
	for _, tc := range []struct {
		name    string
		breakIt func(*spemu.Server)
		// logBack: the log is used again at the next expiry.
		logBack bool
	}{
		{"token expired", (*spemu.Server).ExpireChangeLog, true},
		{"API absent", func(s *spemu.Server) { s.SetChangeLogMode(spemu.ChangeLogAbsent) }, false},
		{"answer garbled", func(s *spemu.Server) { s.SetChangeLogMode(spemu.ChangeLogGarbled) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, srv := fstest.MountSpemu(t, spemu.Config{Root: changeTree(t)}, fstest.Config{DirCacheTime: ttl})
			walkNames(t, m.Dir)
			if err := srv.WriteFile("/d2/late.txt", []byte("z")); err != nil {
				t.Fatal(err)
			}
			tc.breakIt(srv)
			waitPast(ttl)
			srv.ResetRequests()
			if got := walkNames(t, m.Dir); !slices.Contains(got, "/d2/late.txt") {
				t.Fatalf("a change made before the fallback is missing")
			}
			propfinds := 0
			for _, r := range requestsBy(srv) {
				if strings.HasPrefix(r, "PROPFIND") {
					propfinds++
				}
			}
			if propfinds != folders {
				t.Fatalf("fallback listed %d folders, want all %d; requests %v", propfinds, folders, requestsBy(srv))
			}
			waitPast(ttl)
			srv.ResetRequests()
			walkNames(t, m.Dir)
			reqs := requestsBy(srv)
			if tc.logBack && !slices.Equal(reqs, []string{"POST GetChanges"}) {
				t.Fatalf("after a new token: requests %v, want one GetChanges", reqs)
			}
			if !tc.logBack && (len(reqs) != folders || slices.ContainsFunc(reqs, func(r string) bool { return strings.HasPrefix(r, "POST") || strings.HasPrefix(r, "GET") })) {
				t.Fatalf("without a log the next expiry lists each folder and asks the log no more: %v", reqs)
			}
		})
	}
}

// TestChangeLogPoll: with --poll-interval another client's change shows
// within one poll, while listings stay fresh (dir-cache-time an hour);
// each poll is one request for the whole library.
func TestChangeLogPoll(t *testing.T) {
	const poll = 400 * time.Millisecond
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: changeTree(t)}, fstest.Config{DirCacheTime: time.Hour, PollInterval: poll})
	walkNames(t, m.Dir)
	srv.ResetRequests()
	if err := srv.WriteFile("/d5/sub/other.txt", []byte("o")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2*poll + poll/2) // one poll after the change, whatever the phase
	ents, err := os.ReadDir(filepath.Join(m.Dir, "d5/sub"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ents, func(e os.DirEntry) bool { return e.Name() == "other.txt" }) {
		t.Fatalf("another client's file not shown after a poll: %v", ents)
	}
	polls := 0
	for _, r := range requestsBy(srv) {
		switch r {
		case "POST GetChanges":
			polls++
		case "PROPFIND /d5/sub":
		default:
			t.Errorf("unexpected request %s", r)
		}
	}
	if polls < 1 || polls > 3 {
		t.Errorf("%d polls in %v at an interval of %v", polls, 2*poll+poll/2, poll)
	}
}

// TestChangeLogRemount: a remount keeps the token with the listings; a
// change made while unmounted is found by one change query, and only its
// folder is listed again.
func TestChangeLogRemount(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	srv := fstest.StartSpemu(t, spemu.Config{Root: changeTree(t)})
	url := srv.LibraryURL()
	cacheDir := filepath.Join(t.TempDir(), "cache")
	cfg := fstest.Config{Remote: fstest.DavClient(t, url, nil), Library: url, CacheDir: cacheDir, DirCacheTime: ttl}
	m := fstest.Mount(t, cfg)
	cold := walkNames(t, m.Dir)
	m.Unmount(t)
	if err := srv.WriteFile("/d4/while unmounted.txt", []byte("u")); err != nil {
		t.Fatal(err)
	}
	waitPast(ttl)
	srv.ResetRequests()
	m = fstest.Mount(t, cfg)
	got := walkNames(t, m.Dir)
	want := append(slices.Clone(cold), "/d4/while unmounted.txt")
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after the remount: %v\nwant %v", got, want)
	}
	if reqs := requestsBy(srv); !slices.Equal(reqs, []string{"POST GetChanges", "PROPFIND /d4"}) {
		t.Fatalf("remount walk: requests %v, want one GetChanges (the client keeps its form digest) and the changed folder", reqs)
	}
}

// TestLargeFolderPropfindRefused: whether SharePoint Online answers
// PROPFIND Depth 1 on a folder over the list-view threshold is [unc]
// (spemu's MaxFolderItems). When it does not, that folder fails with EIO
// and a log line naming it, and the rest of the walk is unaffected; when
// it does, the folder lists. The change log works either way.
func TestLargeFolderPropfindRefused(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("refused=%v", refuse), func(t *testing.T) {
			root := changeTree(t)
			for i := range 30 {
				p := filepath.Join(root, "big", fmt.Sprintf("f%02d", i))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			scfg := spemu.Config{Root: root}
			if refuse {
				scfg.MaxFolderItems = 20
			}
			m, _ := fstest.MountSpemu(t, scfg, fstest.Config{DirCacheTime: time.Hour})
			ents, err := os.ReadDir(filepath.Join(m.Dir, "big"))
			switch {
			case refuse && !errors.Is(err, syscall.EIO):
				t.Fatalf("folder over the cap: %d entries, %v; want EIO", len(ents), err)
			case !refuse && (err != nil || len(ents) != 30):
				t.Fatalf("folder without the cap: %d entries, %v", len(ents), err)
			}
			if ents, err := os.ReadDir(filepath.Join(m.Dir, "d3")); err != nil || len(ents) != 4 {
				t.Fatalf("another folder: %d entries, %v", len(ents), err)
			}
		})
	}
}
