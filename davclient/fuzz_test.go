package davclient

import (
	"net/url"
	"strings"
	"testing"

	"github.com/odfb/odfb/remote"
)

// The seed corpora in testdata/fuzz/<FuzzName>/ are answers captured from
// spemu and Apache (see capture_test.go); they run in every `go test`.

var fuzzRoots = []string{
	"http://127.0.0.1:1/personal/alice_contoso_com/Documents",
	"http://127.0.0.1:1/dav",
}

func FuzzParseMultistatus(f *testing.F) {
	f.Add([]byte(spSample))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, r := range fuzzRoots {
			root, _ := url.Parse(r)
			ms, err := parseMultistatus(body, root, root)
			if err != nil {
				continue
			}
			for _, e := range ms.entries {
				if e.Path != remote.Clean(e.Path) || strings.Contains(e.Path, "/../") {
					t.Fatalf("entry path %q is not clean", e.Path)
				}
				if e.Size < 0 || (e.IsDir && e.Size != 0) {
					t.Fatalf("entry %+v", e.Entry)
				}
			}
			// Everything accepted under a narrower root must lie under that
			// folder when parsed against the wider root: nothing outside the
			// root is ever accepted.
			sub, _ := url.Parse(r + "/x")
			narrow, err := parseMultistatus(body, sub, sub)
			if err != nil {
				t.Fatalf("parses with root %s but not with %s: %v", root, sub, err)
			}
			wide := map[string]bool{}
			for _, e := range ms.entries {
				wide[strings.ToLower(e.Path)] = true
			}
			for _, e := range narrow.entries {
				full := "/x" + e.Path
				if e.Path == "/" {
					full = "/x"
				}
				if !wide[strings.ToLower(full)] {
					t.Fatalf("entry %q accepted under /x has no counterpart %q under the wider root", e.Path, full)
				}
			}
		}
	})
}

func FuzzParseRESTJSON(f *testing.F) {
	for _, s := range []string{
		`{"d":{"StartUpload":"10485760"}}`, `{"value":"20971520"}`, `{"d":{"ContinueUpload":"5"}}`,
		`{"d":{"GetContextWebInformation":{"FormDigestTimeoutSeconds":1800,"FormDigestValue":"0xAB,01 Jan 2026 00:00:00 -0000"}}}`,
		`{"FormDigestTimeoutSeconds":1800,"FormDigestValue":"0xAB,01 Jan 2026 00:00:00 -0000"}`,
		`{"error":{"code":"-2130575251, Microsoft.SharePoint.SPException","message":{"lang":"en-US","value":"The security validation for this page is invalid"}}}`,
		`{"odata.error":{"code":"-1, Microsoft.SharePoint.Client.InvalidClientQueryException","message":"The request message is too big."}}`,
		`{"d":{"ETag":"\"{A},2\"","Length":"42","Name":"f"}}`, `{"ExpectedContentRange":"100-","UploadId":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if n, err := parseOffset(body); err == nil && n < 0 {
			t.Fatalf("negative offset %d", n)
		}
		if d, secs, err := parseContextInfo(body); err == nil {
			if d == "" || strings.ContainsAny(d, "\r\n\x00") || secs < 0 {
				t.Fatalf("digest %q timeout %d", d, secs)
			}
		}
		if fi, err := parseSPFile(body); err == nil && fi.Length < -1 {
			t.Fatalf("length %d", fi.Length)
		}
		if n, err := parseUploadStatus(body); err == nil && n < 0 {
			t.Fatalf("expected offset %d", n)
		}
		e := parseRESTError(body)
		_ = e.tooBig()
		_ = e.securityValidation()
	})
}
