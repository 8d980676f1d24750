package spemu_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/odfb/odfb/spemu"
)

const quotaPropfind = `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/><D:getetag/></D:prop></D:propfind>`

// quotaOf reads the two RFC 4331 properties of the first response of a
// PROPFIND Depth 0 on url; ok is false when either is missing (a 404
// propstat).
func quotaOf(t *testing.T, url, body string) (used, avail int64, ok bool) {
	t.Helper()
	st, doc := propfind(t, url, "0", body)
	if st != 207 {
		t.Fatalf("PROPFIND %s: %d", url, st)
	}
	rs := doc.FindElements("/D:multistatus/D:response")
	if len(rs) != 1 {
		t.Fatalf("%d responses", len(rs))
	}
	u, okU := prop(rs[0], "D:quota-used-bytes")
	a, okA := prop(rs[0], "D:quota-available-bytes")
	if okU != okA {
		t.Fatalf("one quota property without the other: used %q/%v available %q/%v", u, okU, a, okA)
	}
	if !okU {
		return 0, 0, false
	}
	used, err1 := strconv.ParseInt(u, 10, 64)
	avail, err2 := strconv.ParseInt(a, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("quota values %q %q", u, a)
	}
	return used, avail, true
}

// TestQuotaBytes: with Config.QuotaBytes the library root reports
// quota-used-bytes (the sum of its files' sizes, in every folder) and
// quota-available-bytes (the rest, never below 0) when asked by name;
// folders below the root, allprop, and a server without the switch do
// not.
func TestQuotaBytes(t *testing.T) {
	const quota = 1 << 20
	srv := start(t, func(c *spemu.Config) { c.QuotaBytes = quota })
	lib := srv.LibraryURL()
	if used, avail, ok := quotaOf(t, lib, quotaPropfind); !ok || used != 0 || avail != quota {
		t.Errorf("empty library: used %d available %d (%v), want 0 and %d", used, avail, ok, quota)
	}
	srv.WriteFile("/a.bin", make([]byte, 1000))
	srv.Mkdir("/dir")
	srv.WriteFile("/dir/b.bin", make([]byte, 24))
	wantStatus(t, do(t, "PUT", lib+"/dir/c.bin", make([]byte, 2000)), 201, "PUT")
	if used, avail, ok := quotaOf(t, lib, quotaPropfind); !ok || used != 3024 || avail != quota-3024 {
		t.Errorf("after 3024 bytes: used %d available %d (%v)", used, avail, ok)
	}
	if _, _, ok := quotaOf(t, lib+"/dir", quotaPropfind); ok {
		t.Error("a folder below the root reports quota")
	}
	if _, _, ok := quotaOf(t, lib, ""); ok {
		t.Error("allprop carries the quota properties (RFC 4331 leaves them out)")
	}
	// Over quota (files put behind spemu's back): available is 0.
	srv.WriteFile("/big.bin", make([]byte, quota))
	if used, avail, ok := quotaOf(t, lib, quotaPropfind); !ok || used != quota+3024 || avail != 0 {
		t.Errorf("over quota: used %d available %d (%v)", used, avail, ok)
	}

	plain := start(t, nil)
	if _, _, ok := quotaOf(t, plain.LibraryURL(), quotaPropfind); ok {
		t.Error("quota reported without Config.QuotaBytes")
	}
	st, doc := propfind(t, plain.LibraryURL(), "0", quotaPropfind)
	xml, _ := doc.WriteToString()
	if st != 207 || !strings.Contains(xml, "<D:quota-used-bytes/>") || !strings.Contains(xml, "404") {
		t.Errorf("the unknown quota properties are not listed in a 404 propstat:\n%s", xml)
	}
}
