package davclient

// Benchmarks of the listing path, the hot path of every cold `ls`:
// parsing a 1,000-entry PROPFIND Depth 1 answer as spemu (SharePoint's
// emulator) sends it, and the whole List call against an in-process
// spemu. Run with
//
//	go test -run '^$' -bench . -benchmem ./davclient/
//
// Nothing here times anything in `go test` without -bench. The numbers
// are for comparing versions of odfb on one machine; docs/bench.md
// records one run.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

const (
	benchFolder  = "/bench"
	benchEntries = 1000
)

// benchName is the i-th file name of the benchmark folder: mostly plain
// names, some with spaces, '#', '%' and non-ASCII letters, which the
// server percent-encodes in hrefs and the client must decode.
func benchName(i int) string {
	switch i % 4 {
	case 0:
		return fmt.Sprintf("file-%04d.txt", i)
	case 1:
		return fmt.Sprintf("Report %04d final.docx", i)
	case 2:
		return fmt.Sprintf("Prüfung #%04d (100%%).xlsx", i)
	default:
		return fmt.Sprintf("photo_%04d.jpg", i)
	}
}

// benchServer starts spemu with cookie auth over a root holding
// benchFolder with n small files, and returns it with a client that sends
// a valid session cookie.
func benchServer(b *testing.B, n int) (*spemu.Server, *Client) {
	b.Helper()
	root := b.TempDir()
	dir := filepath.Join(root, strings.TrimPrefix(benchFolder, "/"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		data := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%2000)
		if err := os.WriteFile(filepath.Join(dir, benchName(i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srv := spemutest.Start(b, spemu.Config{Root: root, Auth: "cookie"})
	ck, err := srv.IssueSessionCookie()
	if err != nil {
		b.Fatal(err)
	}
	a, err := auth.StaticCookies(ck)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{URL: srv.LibraryURL(), Auth: a, Limiter: NewLimiter(8),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return srv, c
}

// benchMultistatus fetches, with odfb's own request body, the PROPFIND
// Depth 1 answer of benchFolder exactly as spemu sends it.
func benchMultistatus(b *testing.B, srv *spemu.Server, c *Client) (body []byte, reqURL *url.URL) {
	b.Helper()
	u := c.davURL(benchFolder)
	req, err := http.NewRequest("PROPFIND", u, bytes.NewReader(propfindBody))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Depth", "1")
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	ck, err := srv.IssueSessionCookie()
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Cookie", ck)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusMultiStatus {
		b.Fatalf("PROPFIND %s: %d, %v", u, resp.StatusCode, err)
	}
	reqURL, _ = url.Parse(u)
	return body, reqURL
}

// BenchmarkParseMultistatus1000 parses a 1,000-entry multistatus (about
// 0.7 MB: SharePoint's properties for every entry). MB/s is of XML.
func BenchmarkParseMultistatus1000(b *testing.B) {
	srv, c := benchServer(b, benchEntries)
	body, reqURL := benchMultistatus(b, srv, c)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		ms, err := parseMultistatus(body, reqURL, c.base)
		if err != nil {
			b.Fatal(err)
		}
		if len(ms.entries) != benchEntries+1 { // the folder and its files
			b.Fatalf("parsed %d entries, want %d", len(ms.entries), benchEntries+1)
		}
		iters++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(iters*benchEntries), "ns/entry")
}

// BenchmarkListSpemu1000 is Client.List of a 1,000-file folder against an
// in-process spemu (no latency): request, spemu's answer, transfer and
// parse. requests/op must stay 1 (one PROPFIND Depth 1).
func BenchmarkListSpemu1000(b *testing.B) {
	srv, c := benchServer(b, benchEntries)
	ctx := context.Background()
	check := func() {
		self, kids, err := c.List(ctx, benchFolder)
		if err != nil {
			b.Fatal(err)
		}
		if !self.IsDir || len(kids) != benchEntries {
			b.Fatalf("List: self dir %v, %d children, want %d", self.IsDir, len(kids), benchEntries)
		}
	}
	check() // the connection is open and spemu's caches are warm
	srv.ResetRequests()
	b.ReportAllocs()
	iters := 0
	for b.Loop() {
		check()
		iters++
	}
	b.StopTimer()
	var reqs int
	var down int64
	for _, r := range srv.Requests() {
		reqs++
		down += r.RespBytes
	}
	b.ReportMetric(float64(reqs)/float64(iters), "requests/op")
	b.ReportMetric(float64(down)/float64(iters), "down-bytes/op")
}
