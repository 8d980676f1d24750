package spemu_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

// TestUncertainSwitches: every [unc] behaviour can be switched to the
// other plausible answer.
func TestUncertainSwitches(t *testing.T) {
	s := start(t, func(c *spemu.Config) {
		c.AllowInfiniteDepth = true
		c.OverwriteStatus = 200
		c.NameErrorStatus = 409
		c.MaxFolderItems = 2
		c.PlainReasonPhrases = true
	})
	lib := s.LibraryURL()
	s.Mkdir("/a")
	s.WriteFile("/a/x", []byte("x"))
	st, doc := propfind(t, lib, "infinity", "")
	if st != 207 || responses(doc)[lib+"/a/x"] == nil {
		t.Errorf("Depth infinity allowed: %d", st)
	}
	wantStatus(t, do(t, "PUT", lib+"/a/x", []byte("y")), 200, "overwrite with OverwriteStatus 200")
	r := do(t, "PUT", lib+"/CON", []byte("y"))
	if r.status != 409 || r.header.Get("X-MSDAVEXT_Error") == "" {
		t.Errorf("NameErrorStatus 409: %d %q", r.status, r.header.Get("X-MSDAVEXT_Error"))
	}
	s.WriteFile("/b", nil)
	s.WriteFile("/c", nil)
	if st, _ := propfind(t, lib, "1", ""); st != 503 {
		t.Errorf("folder over MaxFolderItems: %d", st)
	}
	if _, err := spemu.New(spemu.Config{OverwriteStatus: 201}); err == nil {
		t.Errorf("OverwriteStatus 201 accepted")
	}
	if _, err := spemu.New(spemu.Config{Faults: spemu.Faults{ThrottleRate: 0.7, FailRate: 0.5}}); err == nil {
		t.Errorf("rates adding up to 1.2 accepted")
	}
	if _, err := spemu.New(spemu.Config{Auth: "ntlm"}); err == nil {
		t.Errorf("auth ntlm accepted")
	}
}

func TestServerSideAPI(t *testing.T) {
	s := start(t, nil)
	if err := s.WriteFile("/missing/a.txt", []byte("x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile without parent: %v", err)
	}
	if err := s.Mkdir("/d"); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir("/D"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Mkdir existing (other case): %v", err)
	}
	if err := s.WriteFile("/d/a.txt", []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if data, err := s.ReadFile("/D/A.TXT"); err != nil || string(data) != "abc" {
		t.Errorf("ReadFile: %q %v", data, err)
	}
	if err := s.Remove("/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ETag("/d/a.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ETag after Remove: %v", err)
	}
}

// TestLocksAndPropsSurviveRestart: locks and dead properties live in
// _vti_pvt and come back with a restart on the same root.
func TestLocksAndPropsSurviveRestart(t *testing.T) {
	root := t.TempDir()
	s1, err := spemu.New(spemu.Config{Auth: "none", Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start(); err != nil {
		t.Fatal(err)
	}
	u := s1.LibraryURL() + "/p.txt"
	wantStatus(t, do(t, "PUT", u, []byte("p")), 201, "PUT")
	wantStatus(t, do(t, "PROPPATCH", u, []byte(`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop><Z:Win32LastModifiedTime>Wed, 03 Jan 2001 10:00:00 GMT</Z:Win32LastModifiedTime></D:prop></D:set></D:propertyupdate>`)), 207, "PROPPATCH")
	r := do(t, "LOCK", u, []byte(`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`))
	wantStatus(t, r, 200, "LOCK")
	tok := r.header.Get("Lock-Token")
	s1.Close()

	s2 := spemutest.Start(t, spemu.Config{Auth: "none", Root: root})
	u = s2.LibraryURL() + "/p.txt"
	wantStatus(t, do(t, "PUT", u, []byte("q")), 423, "PUT on a lock from before the restart")
	wantStatus(t, do(t, "PUT", u, []byte("q"), "If", "("+tok+")"), 204, "PUT with the token")
	_, doc := propfind(t, u, "0", "")
	for _, rsp := range responses(doc) {
		if v, _ := prop(rsp, "Z:Win32LastModifiedTime"); !strings.HasPrefix(v, "Wed, 03 Jan 2001") {
			t.Errorf("Win32LastModifiedTime after restart: %q", v)
		}
	}
}

// TestCaseIndexSeesDiskChanges: the case-folded folder index notices
// files created and removed on disk behind spemu's back.
func TestCaseIndexSeesDiskChanges(t *testing.T) {
	s := start(t, nil)
	lib := s.LibraryURL()
	wantStatus(t, do(t, "GET", lib+"/ext.txt", nil), 404, "GET before")
	if err := os.WriteFile(filepath.Join(s.Root(), "Ext.TXT"), []byte("disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", lib+"/ext.txt", nil); r.status != 200 || string(r.body) != "disk" {
		t.Errorf("GET after a disk change: %d %q", r.status, r.body)
	}
	os.Remove(filepath.Join(s.Root(), "Ext.TXT"))
	wantStatus(t, do(t, "GET", lib+"/ext.txt", nil), 404, "GET after removal on disk")
	wantStatus(t, do(t, "PUT", lib+"/EXT.txt", []byte("new")), 201, "PUT after removal on disk")
	if _, err := os.Stat(filepath.Join(s.Root(), "EXT.txt")); err != nil {
		t.Errorf("new file stored under its new name: %v", err)
	}
}
