package fusefs_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// jpegBytes is a JPEG-looking file of n bytes (start marker first).
func jpegBytes(n int, seed byte) []byte {
	b := bytes.Repeat([]byte{seed, seed + 1, seed + 2}, n/3+1)[:n]
	b[0], b[1], b[2], b[3] = 0xFF, 0xD8, 0xFF, 0xE0
	return b
}

// serverNames lists a folder of spemu's tree.
func serverNames(t *testing.T, srv *spemu.Server, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(srv.Root(), dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// waitServerVersion polls the mount until p shows the server's bytes
// with the server's size; every look on the way must show one whole
// version (the bytes written or the server's), with a size that agrees.
func waitServerVersion(t *testing.T, srv *spemu.Server, mnt, p string, ours []byte) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	mixed := 0 // consecutive looks whose size and bytes disagree
	for {
		theirs, err := srv.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fi, serr := os.Stat(filepath.Join(mnt, p))
		data, rerr := os.ReadFile(filepath.Join(mnt, p))
		if serr != nil || rerr != nil {
			t.Fatalf("%s through the mount: %v %v", p, serr, rerr)
		}
		if !bytes.Equal(data, ours) && !bytes.Equal(data, theirs) {
			t.Fatalf("%s: %d bytes through the mount are neither ours (%d) nor the server's (%d)", p, len(data), len(ours), len(theirs))
		}
		if fi.Size() != int64(len(ours)) && fi.Size() != int64(len(theirs)) {
			t.Fatalf("%s: size %d is neither ours (%d) nor the server's (%d)", p, fi.Size(), len(ours), len(theirs))
		}
		// A look between the stat and the read may straddle a change of
		// version; a disagreement that lasts is a mix.
		if fi.Size() != int64(len(data)) {
			if mixed++; mixed == 10 {
				t.Fatalf("%s: size %d with %d bytes read (ours %d, the server's %d)", p, fi.Size(), len(data), len(ours), len(theirs))
			}
		} else {
			mixed = 0
		}
		if bytes.Equal(data, theirs) && fi.Size() == int64(len(theirs)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the mount never showed the server's version (size %d, %d bytes read; server %d)", p, fi.Size(), len(data), len(theirs))
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// TestServerRewriteAfterUpload (issue 13, item 5): SharePoint rewrites
// some uploads (Office files, JPEGs +12 bytes), at once or after it
// answered the upload. The mount then shows the server's version, size
// and bytes together, never a mix; the rewrite is not a conflict (no
// conflict copy, nothing in lost+found, no second upload of its own);
// and a file the server does not rewrite is not sent again by a second
// rsync.
func TestServerRewriteAfterUpload(t *testing.T) {
	for _, delay := range []time.Duration{0, 400 * time.Millisecond} {
		t.Run(fmt.Sprintf("delay=%v", delay), func(t *testing.T) {
			rsync := testenv.LookPath(t, "rsync")
			src := t.TempDir()
			photo := jpegBytes(70000, byte(delay/time.Millisecond))
			plain := []byte(strings.Repeat("plain text, not rewritten\n", 100))
			os.WriteFile(filepath.Join(src, "photo.jpg"), photo, 0o644)
			os.WriteFile(filepath.Join(src, "notes.txt"), plain, 0o644)
			m, srv := fstest.MountSpemu(t, spemu.Config{RewriteExts: []string{".jpg"}, RewriteDelay: delay},
				fstest.Config{DirCacheTime: 50 * time.Millisecond})
			run := func() string {
				out, err := exec.Command(rsync, "-a", "--stats", src+"/", m.Dir+"/up/").CombinedOutput()
				if err != nil {
					t.Fatalf("rsync: %v\n%s", err, out)
				}
				return string(out)
			}
			run()
			syncMount(t, m)
			if n := countMethod(srv, "PUT"); n != 2 {
				t.Errorf("first rsync: %d PUTs, want 2", n)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, _ := srv.ReadFile("/up/photo.jpg")
				if len(got) == len(photo)+12 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("spemu never rewrote photo.jpg (%d bytes)", len(got))
				}
				time.Sleep(20 * time.Millisecond)
			}
			waitServerVersion(t, srv, m.Dir, "/up/photo.jpg", photo)
			if got, err := os.ReadFile(filepath.Join(m.Dir, "up", "notes.txt")); err != nil || !bytes.Equal(got, plain) {
				t.Errorf("notes.txt: %d bytes, %v", len(got), err)
			}

			puts := countMethod(srv, "PUT")
			out := run()
			syncMount(t, m)
			// rsync's quick check compares sizes: the rewritten photo
			// differs from the source by the server's 12 bytes, so rsync
			// writes it again (rclone documents the same and offers
			// --ignore-size); the untouched file must not go up again.
			if !strings.Contains(out, "Number of regular files transferred: 1") {
				t.Errorf("second rsync:\n%s", out)
			}
			if n := countMethod(srv, "PUT") - puts; n != 1 {
				t.Errorf("second rsync: %d PUTs, want 1 (photo.jpg only)", n)
			}
			if got := strings.Join(serverNames(t, srv, "/up"), ","); got != "notes.txt,photo.jpg" {
				t.Errorf("server holds %q: the rewrite was taken for a conflict", got)
			}
			if lf := m.Cache.LostFound(); len(lf) != 0 {
				t.Errorf("lost+found: %+v", lf)
			}

			// An edit after the rewrite is an edit of the server's version,
			// not a conflict with it.
			waitServerVersion(t, srv, m.Dir, "/up/photo.jpg", photo)
			f, err := os.OpenFile(filepath.Join(m.Dir, "up", "photo.jpg"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte("tail"))
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			syncMount(t, m)
			if got := strings.Join(serverNames(t, srv, "/up"), ","); got != "notes.txt,photo.jpg" {
				t.Errorf("after an edit the server holds %q", got)
			}
		})
	}
}

// TestEditAfterImmediateRewrite: a JPEG the server rewrote while
// answering its upload (the answer's ETag is outdated at once) can be
// edited right away, without waiting for a listing to expire: the edit
// applies to the server's version, and no conflict copy is made.
func TestEditAfterImmediateRewrite(t *testing.T) {
	m, srv := fstest.MountSpemu(t, spemu.Config{RewriteExts: []string{".jpg"}}, fstest.Config{DirCacheTime: time.Hour})
	p := filepath.Join(m.Dir, "p.jpg")
	ours := jpegBytes(5000, 1)
	if err := os.WriteFile(p, ours, 0o644); err != nil {
		t.Fatal(err)
	}
	syncMount(t, m)
	theirs, _ := srv.ReadFile("/p.jpg")
	if len(theirs) != len(ours)+12 {
		t.Fatalf("spemu did not rewrite p.jpg (%d bytes)", len(theirs))
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(theirs)) {
		t.Errorf("after the upload the mount shows %v bytes (%v), the server holds %d", fi.Size(), err, len(theirs))
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("edit"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	syncMount(t, m)
	if got := strings.Join(serverNames(t, srv, "/"), ","); got != "_vti_pvt,p.jpg" {
		t.Errorf("server holds %q: the rewrite was taken for a conflict", got)
	}
	// The server rewrites the edited upload again (12 more bytes after
	// the start marker): what it got was its version with the edit.
	if got, _ := srv.ReadFile("/p.jpg"); len(got) != len(theirs)+4+12 || !bytes.HasSuffix(got, append(theirs[2:], "edit"...)) {
		t.Errorf("server's p.jpg: %d bytes, want the server's version (%d) with the edit appended, rewritten again", len(got), len(theirs))
	}
}
