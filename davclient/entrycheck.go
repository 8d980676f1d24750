package davclient

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/odfb/odfb/remote"
)

// Checks of a parsed multistatus against what a server may say, apart
// from the parser (propfind.go) so that its decoder can change without
// them. A server, a proxy or someone in the middle can answer anything;
// the mount must never show an entry that does not exist, nor a size it
// made up (a size taken for 0 reads as an empty file, and a backup of it
// is empty). Hrefs outside the library are dropped by the parser.

// checkEntries refuses a listing in which an entry has a size or a
// modification time that is not one (a negative or non-numeric
// getcontentlength, an unparseable getlastmodified), drops entries whose
// name no SharePoint library can hold (NUL or other control characters:
// they cannot be real) and keeps only the first of entries that name the
// same item: the same path, or the same path in another case with the
// same SharePoint item ETag (SharePoint's names are case-insensitive and
// such an ETag names one item; Apache may hold "a" and "A", whose ETags
// may even be equal: itemETag).
// Each dropped entry is logged with its path and the reason.
func (c *Client) checkEntries(op, p string, ms *multistatus) error {
	seen := make(map[string]bool, 2*len(ms.entries))
	kept := ms.entries[:0]
	for _, e := range ms.entries {
		if e.invalid != "" {
			return &remote.Error{Kind: remote.ErrServer, Op: op, Path: p, Status: http.StatusMultiStatus,
				Detail: fmt.Sprintf("the server's answer for %q has an invalid %s; listing refused", e.Path, e.invalid)}
		}
		if i := strings.IndexFunc(e.Path, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
			c.log.Warn("davclient: server named an entry with a control character, which SharePoint refuses; ignored", "op", op, "path", p, "entry", fmt.Sprintf("%q", e.Path))
			continue
		}
		folded := strings.ToLower(e.Path) + "\x00" + e.ETag
		if seen[e.Path] || (itemETag(e.ETag) && seen[folded]) {
			c.log.Warn("davclient: server named an entry twice; the first kept", "op", op, "path", p, "entry", e.Path)
			continue
		}
		seen[e.Path], seen[folded] = true, true
		kept = append(kept, e)
	}
	ms.entries = kept
	return nil
}

// itemETag reports whether etag names one item, as SharePoint's do
// ("{GUID},version"): two spellings of a name with such an ETag are one
// item listed twice. Apache's ETags (size and mtime) do not: two empty
// folders made in the same clock tick share one.
func itemETag(etag string) bool {
	s := strings.Trim(strings.TrimPrefix(strings.TrimSpace(etag), "W/"), `"`)
	return strings.HasPrefix(s, "{") && strings.Contains(s, "},")
}

// rangeShort reports whether a 206 answer's Content-Range ("bytes a-b/t")
// covers less than the range asked for (offset, length > 0) although the
// file, by the total the header gives, holds more: a server that sends
// less than it was asked for and could have sent. Its body would read as
// a file that ends early.
func rangeShort(contentRange string, offset, length, total int64) bool {
	s := strings.TrimSpace(contentRange)
	rng, _, ok := strings.Cut(strings.TrimPrefix(s, "bytes "), "/")
	if !ok || length <= 0 {
		return false
	}
	_, b, ok := strings.Cut(rng, "-")
	if !ok {
		return false
	}
	end, err := strconv.ParseInt(b, 10, 64)
	if err != nil || end < offset {
		return true
	}
	want := offset + length - 1
	if total >= 0 && total-1 < want {
		want = total - 1
	}
	return end < want
}
