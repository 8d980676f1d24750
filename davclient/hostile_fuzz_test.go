package davclient

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckEntries: whatever the multistatus, the entries a listing can
// return after checkEntries are clean, inside the root, free of control
// characters, never twice the same path, never with a negative size.
func FuzzCheckEntries(f *testing.F) {
	f.Add([]byte(spSample))
	f.Add([]byte(`<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/dav/a%00b</D:href><D:propstat><D:prop><D:getcontentlength>-1</D:getcontentlength></D:prop></D:propstat></D:response><D:response><D:href>/dav/a</D:href></D:response><D:response><D:href>/dav/A</D:href></D:response></D:multistatus>`))
	c := &Client{log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, r := range fuzzRoots {
			root, _ := url.Parse(r)
			ms, err := parseMultistatus(body, root, root)
			if err != nil {
				continue
			}
			if err := c.checkEntries("PROPFIND", "/", &ms); err != nil {
				continue
			}
			seen := map[string]bool{}
			for _, e := range ms.entries {
				if e.invalid != "" || e.Size < 0 || seen[e.Path] {
					t.Fatalf("entry %+v (invalid %q) kept", e.Entry, e.invalid)
				}
				if strings.IndexFunc(e.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
					t.Fatalf("entry %q with a control character kept", e.Path)
				}
				seen[e.Path] = true
			}
		}
	})
}

// FuzzParseContentRange: an accepted Content-Range never gives a
// negative start or a total below -1 (unknown).
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-99/1000", "bytes */1000", "bytes 5-9/*", "bytes 0-5/-3", "bytes -1-5/10", "bytes 9223372036854775807-0/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, total, ok := parseContentRange(s)
		if ok && (start < 0 || total < -1) {
			t.Fatalf("%q: start %d total %d accepted", s, start, total)
		}
	})
}

// FuzzRangeShort: a Content-Range that covers exactly the range asked
// for (cut at the file's end) is never taken for short.
func FuzzRangeShort(f *testing.F) {
	f.Add(int64(0), int64(10), int64(100))
	f.Add(int64(95), int64(10), int64(100))
	f.Fuzz(func(t *testing.T, off, n, total int64) {
		if off < 0 || n <= 0 || total <= off || off > 1<<50 || n > 1<<50 || total > 1<<52 {
			return
		}
		end := min(off+n, total) - 1
		cr := fmt.Sprintf("bytes %d-%d/%d", off, end, total)
		if rangeShort(cr, off, n, total) {
			t.Fatalf("%q for offset %d length %d taken for short", cr, off, n)
		}
		if end > off && !rangeShort(fmt.Sprintf("bytes %d-%d/%d", off, end-1, total), off, n, total) {
			t.Fatalf("one byte short of %q not noticed", cr)
		}
	})
}
