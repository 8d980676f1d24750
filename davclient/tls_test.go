package davclient

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odfb/odfb/remote"
)

func TestTLSVerificationCAFileAndHTTP2(t *testing.T) {
	var proto atomic.Value
	var hits atomic.Int32
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		proto.Store(r.Proto)
		w.WriteHeader(201)
	}))
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)

	// Not trusted: a clear, immediate failure (no retries).
	c, err := New(Options{URL: hs.URL + "/lib", BackoffBase: time.Millisecond, Logger: testLogger(t)})
	mustOK(t, err)
	err = c.Mkdir(context.Background(), "/d")
	wantKind(t, err, remote.ErrUnavailable)
	if hits.Load() != 0 {
		t.Fatal("a request reached an untrusted server")
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	mustOK(t, os.WriteFile(ca, pemBytes, 0o644))
	c, err = New(Options{URL: hs.URL + "/lib", CAFile: ca, Logger: testLogger(t)})
	mustOK(t, err)
	mustOK(t, c.Mkdir(context.Background(), "/d"))
	if proto.Load() != "HTTP/2.0" {
		t.Fatalf("protocol %v, want HTTP/2.0", proto.Load())
	}
	if _, err := New(Options{URL: hs.URL, CAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Fatal("a missing CA file was accepted")
	}
}
