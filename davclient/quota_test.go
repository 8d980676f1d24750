package davclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

// Quota answers in the dialects a client meets. Apache mod_dav (with
// quota support, httpd 2.5/trunk) writes live properties with its lp1
// prefix; SharePoint's dialect is D: with Office/Repl/Z declared, absolute
// hrefs and upper-case reason phrases; sabre/dav (Nextcloud, ownCloud)
// writes d: and reports an unlimited quota as a negative available count.
const (
	apacheQuota = `<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:" xmlns:ns0="DAV:">
<D:response xmlns:lp1="DAV:" xmlns:lp2="http://apache.org/dav/props/">
<D:href>/dav/</D:href>
<D:propstat>
<D:prop>
<lp1:quota-available-bytes>52613349376</lp1:quota-available-bytes>
<lp1:quota-used-bytes>1073741824</lp1:quota-used-bytes>
</D:prop>
<D:status>HTTP/1.1 200 OK</D:status>
</D:propstat>
</D:response>
</D:multistatus>
`
	sharePointQuota = `<?xml version="1.0" encoding="utf-8" ?><D:multistatus xmlns:D="DAV:" xmlns:Office="urn:schemas-microsoft-com:office:office" xmlns:Repl="http://schemas.microsoft.com/repl/" xmlns:Z="urn:schemas-microsoft-com:"><D:response><D:href>%ROOT%</D:href><D:propstat><D:prop><D:quota-available-bytes>1099511623680</D:quota-available-bytes><D:quota-used-bytes>4096</D:quota-used-bytes></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`
	sabreUnlimited  = `<?xml version="1.0"?>
<d:multistatus xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns">
 <d:response><d:href>/remote.php/dav/files/u/</d:href>
  <d:propstat><d:prop><d:quota-used-bytes>123456</d:quota-used-bytes><d:quota-available-bytes>-3</d:quota-available-bytes></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
 </d:response>
</d:multistatus>`
	noQuota       = `<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>%ROOT%</D:href><D:propstat><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop><D:status>HTTP/1.1 404 NOT FOUND</D:status></D:propstat></D:response></D:multistatus>`
	availableOnly = `<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>%ROOT%</D:href><D:propstat><D:prop><D:quota-available-bytes>777</D:quota-available-bytes></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat><D:propstat><D:prop><D:quota-used-bytes/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response></D:multistatus>`
	garbledQuota  = `<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>%ROOT%</D:href><D:propstat><D:prop><D:quota-available-bytes>lots</D:quota-available-bytes><D:quota-used-bytes>12 MB</D:quota-used-bytes></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`
)

func TestParseMultistatusQuota(t *testing.T) {
	for _, c := range []struct {
		name, root, body  string
		wantUsed, wantAvl int64
	}{
		{"apache lp1", "http://127.0.0.1:8080/dav", apacheQuota, 1073741824, 52613349376},
		{"sharepoint dialect", "https://contoso-my.sharepoint.com/personal/alice/Documents", sharePointQuota, 4096, 1099511623680},
		{"sabre unlimited", "https://cloud.example/remote.php/dav/files/u", sabreUnlimited, 123456, -3},
		{"404 propstat", "https://contoso-my.sharepoint.com/personal/alice/Documents", noQuota, -1, -1},
		{"available only", "https://contoso-my.sharepoint.com/personal/alice/Documents", availableOnly, -1, 777},
		{"not numbers", "https://contoso-my.sharepoint.com/personal/alice/Documents", garbledQuota, -1, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, _ := url.Parse(c.root)
			ms, err := parseMultistatus([]byte(strings.ReplaceAll(c.body, "%ROOT%", c.root)), root, root)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms.entries) != 1 || ms.entries[0].Path != "/" {
				t.Fatalf("entries %+v", ms.entries)
			}
			if e := ms.entries[0]; e.quotaUsed != c.wantUsed || e.quotaAvail != c.wantAvl {
				t.Errorf("used %d available %d, want %d and %d", e.quotaUsed, e.quotaAvail, c.wantUsed, c.wantAvl)
			}
		})
	}
}

// TestClientQuota checks what Client.Quota makes of each answer: one
// PROPFIND Depth 0 on the root asking for the two properties by name, and
// a remote.Quota that is Known only when the server says how much is
// available.
func TestClientQuota(t *testing.T) {
	for _, c := range []struct {
		name, body string
		want       remote.Quota
	}{
		{"apache", apacheQuota, remote.Quota{Known: true, Used: 1073741824, Available: 52613349376}},
		{"sharepoint dialect", sharePointQuota, remote.Quota{Known: true, Used: 4096, Available: 1099511623680}},
		{"sabre unlimited", sabreUnlimited, remote.Quota{Known: false, Used: 123456}},
		{"none", noQuota, remote.Quota{}},
		{"available only", availableOnly, remote.Quota{Known: true, Available: 777}},
		{"not numbers", garbledQuota, remote.Quota{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var reqs atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reqs.Add(1)
				body, _ := io.ReadAll(r.Body)
				if r.Method != "PROPFIND" || r.Header.Get("Depth") != "0" || strings.TrimSuffix(r.URL.Path, "/") != "/dav" ||
					!strings.Contains(string(body), "quota-available-bytes") || !strings.Contains(string(body), "quota-used-bytes") {
					t.Errorf("request %s %s Depth %q body %s", r.Method, r.URL.Path, r.Header.Get("Depth"), body)
				}
				w.Header().Set("Content-Type", "text/xml; charset=utf-8")
				w.WriteHeader(207)
				// The same answers, with hrefs naming this server's /dav.
				out := strings.ReplaceAll(c.body, "%ROOT%", "http://"+r.Host+"/dav")
				out = strings.ReplaceAll(out, "/remote.php/dav/files/u/", "/dav/")
				io.WriteString(w, out)
			}))
			defer ts.Close()
			cl, err := New(Options{URL: ts.URL + "/dav", Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			q, err := cl.Quota(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if q != c.want {
				t.Errorf("Quota = %+v, want %+v", q, c.want)
			}
			if n := reqs.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// TestQuotaSpemu: spemu with Config.QuotaBytes reports the bytes its
// files take and the rest; the client reads both, and follows uploads.
func TestQuotaSpemu(t *testing.T) {
	const quota = 10 << 20
	srv, tg := startSpemu(t, spemu.Config{QuotaBytes: quota})
	c := newTestClient(t, tg)
	ctx := context.Background()
	q, err := c.Quota(ctx)
	mustOK(t, err)
	if q != (remote.Quota{Known: true, Used: 0, Available: quota}) {
		t.Errorf("empty library: %+v", q)
	}
	mustOK(t, srv.WriteFile("/a.bin", randBytes(1, 5000)))
	_, err = c.Put(ctx, "/b.bin", strings.NewReader(strings.Repeat("x", 1234)), 1234, remote.PutOptions{})
	mustOK(t, err)
	q, err = c.Quota(ctx)
	mustOK(t, err)
	if q != (remote.Quota{Known: true, Used: 6234, Available: quota - 6234}) {
		t.Errorf("after 6234 bytes: %+v", q)
	}
}

// TestVerbsSpemuQuota runs the shared suite against spemu with a quota,
// so its Quota step checks used + available against what the suite left.
func TestVerbsSpemuQuota(t *testing.T) {
	_, tg := startSpemu(t, spemu.Config{QuotaBytes: 1 << 30})
	runVerbSuite(t, tg)
}
