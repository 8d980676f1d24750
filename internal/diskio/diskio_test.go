package diskio

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("a directory: %v", err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing directory: %v, want ErrNotExist", err)
	}
}

// TestCopyFile: the copy holds the bytes, is private, and never
// replaces an existing file.
func TestCopyFile(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "copy")
	if err := CopyFile(strings.NewReader("payload"), dst, true); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || string(got) != "payload" {
		t.Fatalf("copy holds %q, %v", got, err)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := CopyFile(strings.NewReader("other"), dst, false); !errors.Is(err, os.ErrExist) {
		t.Errorf("copy over an existing file: %v, want ErrExist", err)
	}
	if got, _ := os.ReadFile(dst); string(got) != "payload" {
		t.Errorf("existing file changed to %q", got)
	}
}
