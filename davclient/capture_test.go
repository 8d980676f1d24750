package davclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/odfb/odfb/remote"
)

// recorder is a RoundTripper that keeps the bodies of PROPFIND and REST
// answers, for the fuzz seed corpus.
type recorder struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	xml  [][]byte
	json [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	isXML := req.Method == "PROPFIND" || req.Method == "PROPPATCH"
	isJSON := req.Method == http.MethodPost && bytes.Contains([]byte(req.URL.Path), []byte("/_api/"))
	if !isXML && !isJSON {
		return resp, nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	defer r.mu.Unlock()
	if isXML {
		r.xml = append(r.xml, b)
	} else {
		r.json = append(r.json, b)
	}
	return resp, nil
}

var hostPort = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

// writeCorpus stores bodies as Go fuzz corpus files named by content hash,
// with the server's port replaced by the one the fuzz targets use.
func writeCorpus(t *testing.T, fuzzName, prefix string, bodies [][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		b = hostPort.ReplaceAll(b, []byte("127.0.0.1:1"))
		sum := sha256.Sum256(b)
		name := prefix + "-" + hex.EncodeToString(sum[:6])
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: %d %s seeds", fuzzName, len(bodies), prefix)
}

// exercise runs the operations whose answers make good seeds.
func exercise(t *testing.T, c *Client, rest bool) {
	t.Helper()
	ctx := context.Background()
	mustOK(t, c.Mkdir(ctx, "/seed dir"))
	for i, n := range []string{"a b#%.txt", "ünï ' c.bin", "_hidden.txt"} {
		b := randBytes(uint64(i), 1000+i)
		_, err := c.Put(ctx, "/seed dir/"+n, bytes.NewReader(b), int64(len(b)), remote.PutOptions{})
		mustOK(t, err)
	}
	mustOK(t, c.SetModTime(ctx, "/seed dir/a b#%.txt", mustTime("2001-02-03T04:05:06Z")))
	_, _, err := c.List(ctx, "/seed dir")
	mustOK(t, err)
	_, _, err = c.List(ctx, "/")
	mustOK(t, err)
	_, err = c.Stat(ctx, "/seed dir/ünï ' c.bin")
	mustOK(t, err)
	_, _, _ = c.List(ctx, "/seed dir/a b#%.txt")
	_, _ = c.Quota(ctx)
	if rest {
		id := "1b4e28ba-2d9f-4c2e-9b1e-1f0f3a6b7c8d"
		data := randBytes(9, 3000)
		off, err := c.StartUpload(ctx, "/seed dir/big #%.bin", id, bytes.NewReader(data[:1000]), 1000)
		mustOK(t, err)
		off, err = c.ContinueUpload(ctx, "/seed dir/big #%.bin", id, off, bytes.NewReader(data[1000:2000]), 1000)
		mustOK(t, err)
		_, _ = c.ContinueUpload(ctx, "/seed dir/big #%.bin", id, 5, bytes.NewReader(data[:10]), 10) // offset error
		_, err = c.FinishUpload(ctx, "/seed dir/big #%.bin", id, off, bytes.NewReader(data[2000:]), 1000)
		mustOK(t, err)
		_, _ = c.ContinueUpload(ctx, "/seed dir/big #%.bin", id, 3000, bytes.NewReader(nil), 0) // session gone
	}
}

// captureTargets lists the servers seeds are taken from; spemu's entry is
// added in spemu_test.go.
var captureTargets = map[string]func(t *testing.T) (target, bool){
	"apache": func(t *testing.T) (target, bool) {
		s := startApache(t)
		return target{url: s.URL, auth: basicFor(s)}, false
	},
}

// TestCaptureFuzzCorpus refreshes testdata/fuzz from real servers. It runs
// only when ODFB_CAPTURE_CORPUS=1 (the captured files are committed).
func TestCaptureFuzzCorpus(t *testing.T) {
	if os.Getenv("ODFB_CAPTURE_CORPUS") != "1" {
		t.Skip("set ODFB_CAPTURE_CORPUS=1 to capture the fuzz seed corpus from Apache and spemu")
	}
	for name, start := range captureTargets {
		t.Run(name, func(t *testing.T) {
			tg, rest := start(t)
			rec := &recorder{rt: http.DefaultTransport}
			tg.opts = func(o *Options) { o.Transport = rec }
			c := newTestClient(t, tg)
			exercise(t, c, rest)
			writeCorpus(t, "FuzzParseMultistatus", name, rec.xml)
			if len(rec.json) > 0 {
				writeCorpus(t, "FuzzParseRESTJSON", name, rec.json)
			}
			if len(rec.xml) == 0 {
				t.Fatalf("%s: nothing captured", name)
			}
		})
	}
}
