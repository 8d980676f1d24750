package davclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/odfb/odfb/remote"
)

// maxPropfindBody bounds a multistatus document (a folder of ~100,000
// entries is about 100 MB with SharePoint's properties). A variable so
// that a test can lower it.
var maxPropfindBody = 256 << 20

// propfind sends PROPFIND with depth "0" or "1" and parses the answer.
func (c *Client) propfind(ctx context.Context, op, p, depth string, body []byte) (multistatus, *reply, error) {
	u := c.davURL(p)
	r, err := c.do(ctx, call{op: op, path: p, method: "PROPFIND", url: u,
		header: http.Header{"Depth": {depth}, "Content-Type": {"application/xml; charset=utf-8"}},
		body:   bytes.NewReader(body), size: int64(len(body))})
	if err != nil {
		return multistatus{}, nil, err
	}
	if r.StatusCode != http.StatusMultiStatus {
		if r.StatusCode/100 == 2 {
			discard(r.Response)
			return multistatus{}, r, &remote.Error{Kind: remote.ErrServer, Op: op, Path: p, Status: r.StatusCode, Detail: "PROPFIND answered without a multistatus (not a WebDAV server?)"}
		}
		return multistatus{}, r, c.belowFile(ctx, p, statusError(op, p, r.Response))
	}
	defer r.Body.Close()
	data, err := io.ReadAll(io.LimitReader(r.Body, int64(maxPropfindBody)+1))
	if err != nil {
		return multistatus{}, r, &remote.Error{Kind: remote.ErrUnavailable, Op: op, Path: p, Status: r.StatusCode, Err: err}
	}
	if len(data) > maxPropfindBody {
		return multistatus{}, r, &remote.Error{Kind: remote.ErrServer, Op: op, Path: p, Status: r.StatusCode, Detail: fmt.Sprintf("multistatus larger than %d MiB", maxPropfindBody>>20)}
	}
	reqURL, _ := url.Parse(u)
	ms, err := parseMultistatus(data, reqURL, c.base)
	if err != nil {
		return ms, r, &remote.Error{Kind: remote.ErrServer, Op: op, Path: p, Status: r.StatusCode, Err: err}
	}
	if ms.outside > 0 {
		c.log.Warn("davclient: server named paths outside the library; ignored", "op", op, "path", p, "count", ms.outside)
	}
	if err := c.checkEntries(op, p, &ms); err != nil {
		return multistatus{}, r, err
	}
	return ms, r, nil
}

// belowFile resolves a bare 400 (no X-MSDAVEXT_Error, so not a name
// SharePoint refuses): Apache's answer for a path below a file
// ("/f.txt/x"). When the parent is a file, or itself below one, the
// error becomes ErrNotDir; otherwise it stays as it was. One PROPFIND
// per level, only after such a 400.
func (c *Client) belowFile(ctx context.Context, p string, e *remote.Error) *remote.Error {
	if e.Kind != remote.ErrServer || e.Status != http.StatusBadRequest || remote.Dir(p) == "/" {
		return e
	}
	parent, err := c.Stat(ctx, remote.Dir(p))
	if (err == nil && !parent.IsDir) || errors.Is(err, remote.ErrNotDir) {
		e.Kind = remote.ErrNotDir
		e.Detail = strings.TrimSpace("a folder in the path is a file " + e.Detail)
	}
	return e
}

// Stat returns one entry (PROPFIND Depth 0).
func (c *Client) Stat(ctx context.Context, p string) (remote.Entry, error) {
	p = remote.Clean(p)
	ms, _, err := c.propfind(ctx, "PROPFIND", p, "0", propfindBody)
	if err != nil {
		return remote.Entry{}, err
	}
	for _, e := range ms.entries {
		if strings.EqualFold(e.Path, p) {
			return e.Entry, nil
		}
	}
	if len(ms.entries) == 1 && ms.outside == 0 {
		// Some servers answer Depth 0 with a slightly different spelling
		// of the path (normalised Unicode, another case); there is only one.
		e := ms.entries[0].Entry
		e.Path = p
		return e, nil
	}
	if ms.outside > 0 {
		return remote.Entry{}, &remote.Error{Kind: remote.ErrOutsideRoot, Op: "PROPFIND", Path: p, Status: http.StatusMultiStatus}
	}
	return remote.Entry{}, &remote.Error{Kind: remote.ErrNotFound, Op: "PROPFIND", Path: p, Status: http.StatusMultiStatus, Detail: "the server's answer did not name the item"}
}

// List returns a folder and its children (PROPFIND Depth 1). SharePoint
// answers 404 to Depth 1 on a file; the client then asks with Depth 0 to
// tell "not found" from "not a folder".
func (c *Client) List(ctx context.Context, dir string) (remote.Entry, []remote.Entry, error) {
	dir = remote.Clean(dir)
	ms, _, err := c.propfind(ctx, "PROPFIND", dir, "1", propfindBody)
	if err != nil {
		if errors.Is(err, remote.ErrNotFound) {
			if e, serr := c.Stat(ctx, dir); serr == nil && !e.IsDir {
				return remote.Entry{}, nil, &remote.Error{Kind: remote.ErrNotDir, Op: "PROPFIND", Path: dir}
			}
		}
		return remote.Entry{}, nil, err
	}
	var self *remote.Entry
	var kids []remote.Entry
	for i := range ms.entries {
		e := ms.entries[i].Entry
		switch {
		case strings.EqualFold(e.Path, dir):
			if self == nil {
				self = &e
			}
		case strings.EqualFold(remote.Dir(e.Path), dir):
			kids = append(kids, e)
		default:
			c.log.Warn("davclient: PROPFIND Depth 1 named an entry that is not a child; ignored", "path", dir, "entry", e.Path)
		}
	}
	if self == nil {
		return remote.Entry{}, nil, &remote.Error{Kind: remote.ErrServer, Op: "PROPFIND", Path: dir, Detail: "the answer did not include the folder itself"}
	}
	if !self.IsDir {
		return remote.Entry{}, nil, &remote.Error{Kind: remote.ErrNotDir, Op: "PROPFIND", Path: dir}
	}
	return *self, kids, nil
}

// Get streams a file or a range of it. A server that ignores Range (200
// where 206 was asked) is detected: the client skips to offset and cuts
// at length itself.
func (c *Client) Get(ctx context.Context, p string, offset, length int64) (io.ReadCloser, remote.ObjectInfo, error) {
	p = remote.Clean(p)
	info := remote.ObjectInfo{Size: -1}
	if offset < 0 {
		return nil, info, &remote.Error{Kind: remote.ErrServer, Op: "GET", Path: p, Detail: "negative offset"}
	}
	if length == 0 {
		e, err := c.Stat(ctx, p)
		if err != nil {
			return nil, info, err
		}
		return io.NopCloser(strings.NewReader("")), remote.ObjectInfo{ETag: e.ETag, Size: e.Size}, nil
	}
	h := http.Header{}
	ranged := offset > 0 || length > 0
	if ranged {
		if length > 0 {
			h.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
		} else {
			h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
	}
	r, err := c.do(ctx, call{op: "GET", path: p, method: http.MethodGet, url: c.davURL(p), header: h})
	if err != nil {
		return nil, info, err
	}
	info.ETag = r.Header.Get("ETag")
	switch r.StatusCode {
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(r.Header.Get("Content-Range"))
		if !ok || start != offset || rangeShort(r.Header.Get("Content-Range"), offset, length, total) {
			discard(r.Response)
			return nil, info, &remote.Error{Kind: remote.ErrServer, Op: "GET", Path: p, Status: 206, Detail: "Content-Range does not match the range asked for"}
		}
		info.Size = total
		body := io.ReadCloser(r.Body)
		if length > 0 {
			body = limitedBody(r.Body, length)
		}
		return body, info, nil
	case http.StatusOK:
		info.Size = r.ContentLength
		if ranged {
			c.rangeWarn.Do(func() {
				c.log.Warn("davclient: server ignores Range requests; reading past the unwanted bytes", "path", p)
			})
			if _, err := io.CopyN(io.Discard, r.Body, offset); err != nil {
				r.Body.Close()
				if err == io.EOF {
					return io.NopCloser(strings.NewReader("")), info, nil
				}
				return nil, info, &remote.Error{Kind: remote.ErrUnavailable, Op: "GET", Path: p, Status: 200, Err: err}
			}
		}
		body := io.ReadCloser(r.Body)
		if length > 0 {
			body = limitedBody(r.Body, length)
		}
		return body, info, nil
	case http.StatusRequestedRangeNotSatisfiable:
		// Offset at or past the end: an empty read, not an error.
		if _, total, ok := parseContentRange(r.Header.Get("Content-Range")); ok {
			info.Size = total
		}
		discard(r.Response)
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	return nil, info, statusError("GET", p, r.Response)
}

type limitedReadCloser struct {
	io.Reader
	io.Closer
}

func limitedBody(rc io.ReadCloser, n int64) io.ReadCloser {
	return limitedReadCloser{Reader: io.LimitReader(rc, n), Closer: rc}
}

// parseContentRange reads "bytes a-b/total" (total may be "*") and
// "bytes */total".
func parseContentRange(s string) (start, total int64, ok bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "bytes ") {
		return 0, -1, false
	}
	rng, tot, found := strings.Cut(strings.TrimSpace(s[6:]), "/")
	if !found {
		return 0, -1, false
	}
	total = -1
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n < 0 {
			return 0, -1, false
		}
		total = n
	}
	if rng == "*" {
		return 0, total, true
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, -1, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil || n < 0 {
		return 0, -1, false
	}
	return n, total, true
}

// Put uploads size bytes from body in one request. The body is streamed
// from the ReaderAt and re-read from 0 on a retry.
func (c *Client) Put(ctx context.Context, p string, body io.ReaderAt, size int64, opts remote.PutOptions) (string, error) {
	p = remote.Clean(p)
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if opts.IfMatch != "" {
		im, err := c.ifMatch(ctx, p, opts.IfMatch)
		if err != nil {
			return "", err
		}
		if im != "" {
			h.Set("If-Match", im)
		}
	}
	if opts.IfNoneMatch {
		h.Set("If-None-Match", "*")
	}
	if size > 1<<20 {
		// A refusal (auth, precondition, size) then costs no upload.
		h.Set("Expect", "100-continue")
	}
	if body == nil {
		body = bytes.NewReader(nil)
	}
	r, err := c.do(ctx, call{op: "PUT", path: p, method: http.MethodPut, url: c.davURL(p), header: h, body: body, size: size})
	if err != nil {
		return "", err
	}
	if r.StatusCode/100 != 2 {
		e := c.belowFile(ctx, p, statusError("PUT", p, r.Response))
		if e.Kind == remote.ErrPrecondition && r.ambiguous {
			e.Detail = strings.TrimSpace(e.Detail + " (an earlier attempt whose answer was lost may have succeeded)")
		}
		if r.StatusCode == http.StatusMethodNotAllowed {
			e.Kind = remote.ErrExists // a folder is in the way
		}
		if r.StatusCode == http.StatusConflict {
			// Apache answers 409 for a folder in the way too, not only
			// for a missing parent: look.
			if st, serr := c.Stat(ctx, p); serr == nil && st.IsDir {
				e.Kind = remote.ErrExists
				e.Detail = strings.TrimSpace("a folder has that name " + e.Detail)
			}
		}
		return "", e
	}
	etag := r.Header.Get("ETag")
	discard(r.Response)
	return etag, nil
}

// ifMatch returns the If-Match value for an upload that must replace the
// version etag. A strong etag is sent as is. A weak one (W/"…": Apache
// marks a file's etag weak during the second after it changed) can never
// satisfy If-Match, which compares strongly; the client then compares
// itself: it reads the current etag and fails with ErrPrecondition when
// the file changed, else sends the current strong etag, or no If-Match at
// all when the server still calls it weak (a window of at most the
// server's weak-etag period, documented in doc.go).
func (c *Client) ifMatch(ctx context.Context, p, etag string) (string, error) {
	if !strings.HasPrefix(etag, "W/") {
		return etag, nil
	}
	e, err := c.Stat(ctx, p)
	if err != nil {
		if errors.Is(err, remote.ErrNotFound) {
			return "", &remote.Error{Kind: remote.ErrPrecondition, Op: "PUT", Path: p, Detail: "the file is gone"}
		}
		return "", err
	}
	if strings.TrimPrefix(e.ETag, "W/") != strings.TrimPrefix(etag, "W/") {
		return "", &remote.Error{Kind: remote.ErrPrecondition, Op: "PUT", Path: p, Detail: "the file changed on the server"}
	}
	if strings.HasPrefix(e.ETag, "W/") {
		return "", nil
	}
	return e.ETag, nil
}

// Mkdir creates one folder (MKCOL).
func (c *Client) Mkdir(ctx context.Context, p string) error {
	p = remote.Clean(p)
	r, err := c.do(ctx, call{op: "MKCOL", path: p, method: "MKCOL", url: c.davURL(p)})
	if err != nil {
		return err
	}
	if r.StatusCode/100 == 2 {
		discard(r.Response)
		return nil
	}
	e := c.belowFile(ctx, p, statusError("MKCOL", p, r.Response))
	if e.Kind == remote.ErrExists && r.ambiguous {
		// Our own earlier attempt may have made it and lost its answer, or
		// something else holds the name (a file, made by someone else while
		// our attempt failed): only a folder there is success.
		if st, serr := c.Stat(ctx, p); serr == nil && st.IsDir {
			return nil
		}
	}
	return e
}

// Delete removes a file or a folder tree.
func (c *Client) Delete(ctx context.Context, p string) error {
	p = remote.Clean(p)
	if p == "/" {
		// Never sent: DELETE on the library URL asks the server to remove
		// the whole library, and "" or "." from a caller's bug cleans to "/".
		return &remote.Error{Kind: remote.ErrForbidden, Op: "DELETE", Path: p, Detail: "cannot delete the library root"}
	}
	r, err := c.do(ctx, call{op: "DELETE", path: p, method: http.MethodDelete, url: c.davURL(p)})
	if err != nil {
		return err
	}
	switch {
	case r.StatusCode == http.StatusMultiStatus:
		// Part of a folder could not be deleted (a locked member).
		data, _ := io.ReadAll(io.LimitReader(r.Body, maxErrBody))
		r.Body.Close()
		kind := remote.ErrServer
		if bytes.Contains(data, []byte(" 423 ")) {
			kind = remote.ErrLocked
		}
		return &remote.Error{Kind: kind, Op: "DELETE", Path: p, Status: r.StatusCode, Detail: "some members could not be deleted"}
	case r.StatusCode/100 == 2:
		discard(r.Response)
		return nil
	}
	e := statusError("DELETE", p, r.Response)
	if e.Kind == remote.ErrNotFound && r.ambiguous {
		return nil
	}
	return e
}

// Move renames src to dst (MOVE).
func (c *Client) Move(ctx context.Context, src, dst string, overwrite bool) error {
	return c.moveCopy(ctx, "MOVE", src, dst, overwrite)
}

// Copy copies src to dst (COPY, Depth infinity for folders).
func (c *Client) Copy(ctx context.Context, src, dst string, overwrite bool) error {
	return c.moveCopy(ctx, "COPY", src, dst, overwrite)
}

func (c *Client) moveCopy(ctx context.Context, op, src, dst string, overwrite bool) error {
	src, dst = remote.Clean(src), remote.Clean(dst)
	if src == "/" || dst == "/" {
		return &remote.Error{Kind: remote.ErrForbidden, Op: op, Path: src, Detail: "cannot " + strings.ToLower(op) + " the library root"}
	}
	ow := "F"
	if overwrite {
		ow = "T"
	}
	h := http.Header{"Destination": {c.davURL(dst)}, "Overwrite": {ow}}
	if op == "COPY" {
		h.Set("Depth", "infinity")
	}
	r, err := c.do(ctx, call{op: op, path: src, method: op, url: c.davURL(src), header: h})
	if err != nil {
		return err
	}
	if r.StatusCode/100 == 2 && r.StatusCode != http.StatusMultiStatus {
		discard(r.Response)
		return nil
	}
	e := statusError(op, src, r.Response)
	if r.ambiguous && (e.Kind == remote.ErrNotFound || e.Kind == remote.ErrPrecondition) {
		// An earlier attempt may have done the work and lost its answer:
		// look at the state instead of guessing.
		_, serr := c.Stat(ctx, src)
		_, derr := c.Stat(ctx, dst)
		srcGone := errors.Is(serr, remote.ErrNotFound)
		if derr == nil && ((op == "MOVE" && srcGone) || (op == "COPY" && serr == nil)) {
			c.log.Info("davclient: an earlier attempt succeeded; its answer was lost", "op", op, "src", src, "dst", dst)
			return nil
		}
	}
	if e.Kind == remote.ErrServer && r.StatusCode == http.StatusBadGateway {
		e.Detail = strings.TrimSpace("destination on another server or site collection " + e.Detail)
	}
	return e
}

// SetModTime stores t as Win32LastModifiedTime (PROPPATCH).
func (c *Client) SetModTime(ctx context.Context, p string, t time.Time) error {
	p = remote.Clean(p)
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	pu := doc.CreateElement("D:propertyupdate")
	pu.CreateAttr("xmlns:D", nsDAV)
	pu.CreateAttr("xmlns:Z", nsMS)
	pu.CreateElement("D:set").CreateElement("D:prop").CreateElement("Z:Win32LastModifiedTime").SetText(t.UTC().Format(http.TimeFormat))
	body, _ := doc.WriteToBytes()
	r, err := c.do(ctx, call{op: "PROPPATCH", path: p, method: "PROPPATCH", url: c.davURL(p),
		header: http.Header{"Content-Type": {"application/xml; charset=utf-8"}},
		body:   bytes.NewReader(body), size: int64(len(body))})
	if err != nil {
		return err
	}
	switch {
	case r.StatusCode == http.StatusMultiStatus:
		data, _ := io.ReadAll(io.LimitReader(r.Body, maxErrBody))
		r.Body.Close()
		if bad := proppatchFailure(data); bad != "" {
			return &remote.Error{Kind: remote.ErrServer, Op: "PROPPATCH", Path: p, Status: r.StatusCode, Detail: "property not stored: " + bad}
		}
		return nil
	case r.StatusCode/100 == 2:
		discard(r.Response)
		return nil
	}
	return statusError("PROPPATCH", p, r.Response)
}

// proppatchFailure returns the first non-2xx propstat status, "" if none.
func proppatchFailure(data []byte) string {
	doc := etree.NewDocument()
	if doc.ReadFromBytes(data) != nil || doc.Root() == nil {
		return "unreadable answer"
	}
	for _, r := range children(doc.Root(), nsDAV, "response") {
		if st := child(r, nsDAV, "status"); st != nil && !statusOK(st.Text()) {
			return strings.TrimSpace(st.Text())
		}
		for _, ps := range children(r, nsDAV, "propstat") {
			if st := child(ps, nsDAV, "status"); st != nil && !statusOK(st.Text()) {
				return strings.TrimSpace(st.Text())
			}
		}
	}
	return ""
}

// Quota reads quota-used-bytes / quota-available-bytes of the root.
func (c *Client) Quota(ctx context.Context) (remote.Quota, error) {
	ms, _, err := c.propfind(ctx, "PROPFIND", "/", "0", quotaBody)
	if err != nil {
		return remote.Quota{}, err
	}
	for _, e := range ms.entries {
		if e.quotaAvail >= 0 || e.quotaUsed >= 0 {
			q := remote.Quota{Known: e.quotaAvail >= 0, Used: max(e.quotaUsed, 0), Available: max(e.quotaAvail, 0)}
			return q, nil
		}
	}
	return remote.Quota{}, nil
}
