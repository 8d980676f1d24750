package control

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

type fakeHandler struct {
	syncErr   error
	unmounted atomic.Bool
}

func (f *fakeHandler) Sync(ctx context.Context) error { return f.syncErr }
func (f *fakeHandler) Status() any                    { return map[string]int{"queued": 3} }
func (f *fakeHandler) Unmount() error                 { f.unmounted.Store(true); return nil }

func TestControlRoundTrip(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	mnt := filepath.Join(t.TempDir(), "mnt")
	h := &fakeHandler{}
	s, err := Listen(mnt, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := os.Stat(s.Path())
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	if dst, _ := os.Stat(filepath.Dir(s.Path())); dst.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode %v", dst.Mode())
	}
	ctx := context.Background()
	resp, err := Call(ctx, mnt, Request{Op: "status"})
	if err != nil || !resp.OK {
		t.Fatalf("status: %+v %v", resp, err)
	}
	var m map[string]int
	if json.Unmarshal(resp.Status, &m); m["queued"] != 3 {
		t.Errorf("status payload %s", resp.Status)
	}
	if resp, err := Call(ctx, mnt, Request{Op: "sync"}); err != nil || !resp.OK {
		t.Errorf("sync: %+v %v", resp, err)
	}
	h.syncErr = errors.New("2 uploads failed")
	if resp, err := Call(ctx, mnt, Request{Op: "sync"}); err != nil || resp.OK || resp.Error != "2 uploads failed" || len(resp.Status) == 0 {
		t.Errorf("failed sync: %+v %v", resp, err)
	}
	if resp, err := Call(ctx, mnt, Request{Op: "unmount"}); err != nil || !resp.OK || !h.unmounted.Load() {
		t.Errorf("unmount: %+v %v", resp, err)
	}
	if resp, _ := Call(ctx, mnt, Request{Op: "bogus"}); resp.OK {
		t.Error("unknown op accepted")
	}
	// A second server for the same mountpoint is refused while the first
	// answers.
	if _, err := Listen(mnt, h, nil); err == nil {
		t.Error("second Listen on a live socket succeeded")
	}
	s.Close()
	if _, err := Call(ctx, mnt, Request{Op: "status"}); !errors.Is(err, ErrNoMount) {
		t.Errorf("call after close: %v", err)
	}
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
