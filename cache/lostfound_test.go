package cache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLocalLostNameFits: every segment of a lost+found name fits a
// 255-byte file system, the last one with room for a counter and
// ".reason"; the extension survives the shortening and a cut never
// splits a character.
func TestLocalLostNameFits(t *testing.T) {
	long := strings.Repeat("\uFF1A", 300) // 900 bytes
	rel := localLostName("/"+long+"/"+long+".docx", 255)
	segs := strings.Split(rel, "/")
	if len(segs) != 2 {
		t.Fatalf("segments %q", segs)
	}
	if len(segs[0]) > 255 {
		t.Errorf("folder segment of %d bytes", len(segs[0]))
	}
	if n := len(segs[1]) + len(" (1000)") + len(".reason"); n > 255 {
		t.Errorf("file segment of %d bytes leaves no room for counter and .reason (%d)", len(segs[1]), n)
	}
	if !strings.HasSuffix(segs[1], ".docx") {
		t.Errorf("extension lost: %q", segs[1])
	}
	for _, s := range segs {
		if !strings.HasPrefix(long, strings.TrimSuffix(s, ".docx")) {
			t.Errorf("segment %q is not a prefix of the original (a character was split?)", s)
		}
	}
	if got := localLostName("/a/short.txt", 255); got != "a/short.txt" {
		t.Errorf("short path changed to %q", got)
	}
	if got := localLostName("/x\x01y/../.", 255); got != "x_y/_/_" {
		t.Errorf("control characters and dot segments: %q", got)
	}
}

// TestFreeLostNameBounded: taken names get a counter before the
// extension; a disk answer other than "no such file" is an error at
// once, not a loop; and the counter search stops after maxLostTries.
func TestFreeLostNameBounded(t *testing.T) {
	dir := t.TempDir()
	dst, err := freeLostName(dir, "/f/a.txt")
	if err != nil || dst != filepath.Join(dir, "f", "a.txt") {
		t.Fatalf("free name: %q %v", dst, err)
	}
	os.MkdirAll(filepath.Join(dir, "f"), 0o700)
	os.WriteFile(dst, nil, 0o600)
	if dst, err := freeLostName(dir, "/f/a.txt"); err != nil || dst != filepath.Join(dir, "f", "a (1).txt") {
		t.Errorf("taken name: %q %v, want a (1).txt", dst, err)
	}

	// A file where a folder should be: Lstat answers ENOTDIR forever.
	os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600)
	if _, err := freeLostName(dir, "/plain/b.txt"); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("unusable folder: %v, want ENOTDIR", err)
	}

	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o700)
	os.WriteFile(filepath.Join(full, "c"), nil, 0o600)
	for i := 1; i < maxLostTries; i++ {
		os.WriteFile(filepath.Join(full, withCounter("c", i)), nil, 0o600)
	}
	if dst, err := freeLostName(dir, "/full/c"); err == nil {
		t.Errorf("all %d names taken: got %q", maxLostTries, dst)
	}
}
