package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestCredentialsStoreRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cfg", "odfb", "credentials.json")
	s := CredentialsStore{Path: p}
	if _, err := s.Get("a.example", "c"); !errors.Is(err, ErrNoLogin) {
		t.Fatalf("empty store: %v", err)
	}
	if err := s.Put(CredentialsEntry{Host: "A.example", ClientID: "c", RefreshToken: "rt-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(CredentialsEntry{Host: "b.example", ClientID: "c", RefreshToken: "rt-b"}); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get("a.EXAMPLE", "c")
	if err != nil || e.RefreshToken != "rt-1" {
		t.Fatalf("got %+v %v", e, err)
	}
	// Concurrent read-modify-write cycles under the lock lose nothing.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update("a.example", "c", func(e CredentialsEntry) (CredentialsEntry, error) {
				e.RefreshToken += "x"
				return e, nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	e, _ = s.Get("a.example", "c")
	if e.RefreshToken != "rt-1xxxxxxxx" {
		t.Errorf("after 8 updates: %q", e.RefreshToken)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(p))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %o", di.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	for _, d := range ents {
		if strings.Contains(d.Name(), "tmp") {
			t.Errorf("temporary file left: %s", d.Name())
		}
	}
	if err := s.Delete("a.example", "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a.example", "c"); !errors.Is(err, ErrNoLogin) {
		t.Errorf("deleted entry still there: %v", err)
	}
	if has, err := s.HasHost("B.example"); !has || err != nil {
		t.Errorf("HasHost(b.example) = %v, %v", has, err)
	}
}

func TestCredentialsRefusedWhenReadable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "credentials.json")
	os.WriteFile(p, []byte(`{"version":1,"entries":[]}`), 0o644)
	_, err := CredentialsStore{Path: p}.Get("h", "c")
	if err == nil || errors.Is(err, ErrNoLogin) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable file accepted: %v", err)
	}
	os.WriteFile(p, []byte(`{"version":1,"entries":[{"host":"h","client_id":"c","refresh_token":"secret-rt"`), 0o600)
	os.Chmod(p, 0o600)
	_, err = CredentialsStore{Path: p}.Get("h", "c")
	if err == nil || strings.Contains(err.Error(), "secret-rt") {
		t.Fatalf("corrupt file: %v", err)
	}
}

func TestDefaultCredentialsPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/x/cfg")
	got := DefaultCredentialsPath()
	if os.Geteuid() == 0 {
		if got != "/etc/odfb/credentials.json" {
			t.Errorf("root: %s", got)
		}
		return
	}
	if got != "/x/cfg/odfb/credentials.json" {
		t.Errorf("got %s", got)
	}
}
