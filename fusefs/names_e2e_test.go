package fusefs_test

// Name limits through a real mount against spemu: a name over Linux's
// 255 bytes is refused at once with ENAMETOOLONG and costs no request; a
// name that fits on Linux but that the server refuses (its mapped form is
// longer than spemu stores) goes to lost+found under a name the cache's
// disk can hold, and the mount goes on serving and uploading other files
// meanwhile. Before the fix, the first was accepted and the second made
// the uploader loop forever holding the lock every lookup needs.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// within runs f and fails the test if it has not returned after d: the
// bugs these tests guard against are hangs, and a hung test must fail
// with a message rather than stall CI until its global timeout.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: the mount hangs", what, d)
	}
}

func TestNameTooLong(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "old.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, srv := fstest.MountSpemu(t, spemu.Config{Root: root}, fstest.Config{Write: cache.WriteOptions{WriteBack: time.Hour}})
	if _, err := os.ReadDir(m.Dir); err != nil { // the listing is cached: what follows needs no request
		t.Fatal(err)
	}
	long := strings.Repeat("n", 256)
	fits := strings.Repeat("f", 255)
	before := len(srv.Requests())

	within(t, time.Minute, "operations on over-long names", func() {
		_, err := os.Create(filepath.Join(m.Dir, long))
		if !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("create of a 256-byte name: %v, want ENAMETOOLONG", err)
		}
		if err := os.Mkdir(filepath.Join(m.Dir, long), 0o755); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("mkdir of a 256-byte name: %v, want ENAMETOOLONG", err)
		}
		if _, err := os.Stat(filepath.Join(m.Dir, long)); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("stat of a 256-byte name: %v, want ENAMETOOLONG", err)
		}
		if err := os.Rename(filepath.Join(m.Dir, "old.txt"), filepath.Join(m.Dir, long)); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("rename onto a 256-byte name: %v, want ENAMETOOLONG", err)
		}
		// Multi-byte characters count in bytes: 128 two-byte letters.
		if _, err := os.Create(filepath.Join(m.Dir, strings.Repeat("é", 128))); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("create of a 128-character, 256-byte name: %v, want ENAMETOOLONG", err)
		}
	})
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("refusing over-long names cost %d requests, want 0", n)
	}
	if _, err := os.Stat(filepath.Join(m.Dir, "old.txt")); err != nil {
		t.Errorf("the rename source after a refused rename: %v", err)
	}

	// 255 bytes is allowed, reaches the server and reads back.
	if err := os.WriteFile(filepath.Join(m.Dir, fits), []byte("fits"), 0o644); err != nil {
		t.Fatalf("create of a 255-byte name: %v", err)
	}
	syncMount(t, m)
	if data, err := srv.ReadFile("/" + fits); err != nil || string(data) != "fits" {
		t.Errorf("255-byte name on the server: %q %v", data, err)
	}
	if err := os.Mkdir(filepath.Join(m.Dir, "d"+fits[1:]), 0o755); err != nil {
		t.Errorf("mkdir of a 255-byte name: %v", err)
	}
	if _, err := srv.Stat("/d" + fits[1:]); err != nil {
		t.Errorf("255-byte folder on the server: %v", err)
	}
}

// TestNameTooLongAfterMapping: a 255-byte local name made of characters
// SharePoint forbids maps to full-width look-alikes of 3 bytes each (765
// bytes). spemu stores at most 255 bytes a name and refuses it; odfb
// keeps the file in lost+found under a shortened name that keeps the
// extension, says so to `odfb sync`, and meanwhile serves lookups and
// uploads other files.
func TestNameTooLongAfterMapping(t *testing.T) {
	m, srv := fstest.MountSpemu(t, spemu.Config{}, fstest.Config{Write: cache.WriteOptions{WriteBack: time.Millisecond}})
	name := strings.Repeat(":", 251) + ".txt" // 255 bytes here, 757 on the server
	data := []byte("keep me although the server refused my name")
	within(t, 2*time.Minute, "writing a name the server refuses, then other files", func() {
		if err := os.WriteFile(filepath.Join(m.Dir, name), data, 0o644); err != nil {
			t.Errorf("create of a 255-byte name with mapped characters: %v", err)
			return
		}
		// Give the uploader time to be refused; lookups and other
		// files must not wait for it whatever it does.
		deadline := time.Now().Add(30 * time.Second)
		for len(m.Cache.LostFound()) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "other.txt"), []byte("other"), 0o644); err != nil {
			t.Errorf("another file while the refused one is handled: %v", err)
		}
		if _, err := os.ReadDir(m.Dir); err != nil {
			t.Errorf("listing while the refused file is handled: %v", err)
		}
		// The refusal came before the sync began: the sync has nothing
		// to wait for and reports success; status keeps the mark.
		if err := trySync(m); err != nil {
			t.Errorf("sync: %v", err)
		}
		if st := m.Cache.Status(); len(st.LostFound) != 1 {
			t.Errorf("status lists lost+found %+v, want one file", st.LostFound)
		}
	})
	if got, err := srv.ReadFile("/other.txt"); err != nil || string(got) != "other" {
		t.Errorf("other.txt on the server: %q %v", got, err)
	}
	lost := m.Cache.LostFound()
	if len(lost) != 1 {
		t.Fatalf("lost+found: %+v, want one file", lost)
	}
	f := lost[0].File
	base := filepath.Base(f)
	if len(base)+len(".reason") > 255 || !strings.HasSuffix(base, ".txt") {
		t.Errorf("lost+found name %q (%d bytes): want at most 248 bytes, ending in .txt", base, len(base))
	}
	if got, err := os.ReadFile(f); err != nil || !bytes.Equal(got, data) {
		t.Errorf("lost+found content %q %v, want %q", got, err, data)
	}
	if lost[0].Path != "/"+strings.Repeat("\uFF1A", 251)+".txt" {
		t.Errorf("lost+found records server path %q", lost[0].Path)
	}
	if !strings.Contains(lost[0].Reason, "too long") {
		t.Errorf("lost+found reason %q does not say the name is too long", lost[0].Reason)
	}
}
