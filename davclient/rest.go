package davclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/odfb/odfb/remote"
)

// MaxRESTRequest is SharePoint's cap on one REST/CSOM request body
// (262,144,000 bytes): a chunk above it is refused before it is sent.
const MaxRESTRequest = 262144000

const (
	restUnknown int32 = iota
	restYes
	restNo
)

const restAccept = "application/json;odata=verbose"

// maxRESTBody bounds a REST JSON answer.
const maxRESTBody = 4 << 20

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// odataString quotes s as an OData string literal (single quotes doubled).
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// escapeREST percent-encodes a REST path: everything but unreserved
// characters and the OData call syntax ("/'(),=:") is encoded, so "#",
// "%", "?", "&", "+" and non-ASCII names reach the server intact.
func escapeREST(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			strings.IndexByte("-._~/'(),=:!*@$", ch) >= 0:
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// restURL returns <web>/_api/<fn>, fn being unencoded.
func (c *Client) restURL(fn string) string {
	return c.web.Scheme + "://" + c.web.Host + c.web.EscapedPath() + "/_api/" + escapeREST(fn)
}

func (c *Client) fileAPI(p string) string {
	return "web/GetFileByServerRelativePath(decodedurl=" + odataString(c.serverRelative(p)) + ")"
}

func (c *Client) folderAPI(p string) string {
	return "web/GetFolderByServerRelativePath(decodedurl=" + odataString(c.serverRelative(p)) + ")"
}

// formDigest returns a valid X-RequestDigest, fetching one from
// /_api/contextinfo when none is cached or it is about to expire (or when
// force is set after a "security validation" refusal). The first answer
// also decides, once, whether the server has a REST API at all.
func (c *Client) formDigest(ctx context.Context, op, p string, force bool) (string, error) {
	c.restMu.Lock()
	defer c.restMu.Unlock()
	if c.restState == restNo {
		return "", &remote.Error{Kind: remote.ErrNotSupported, Op: op, Path: p, Detail: "the server has no SharePoint REST API"}
	}
	if !force && c.digest != "" && time.Now().Before(c.digestTill) {
		return c.digest, nil
	}
	c.restCalls.Add(1)
	r, err := c.do(ctx, call{op: "contextinfo", path: p, method: http.MethodPost, url: c.restURL("contextinfo"),
		header: http.Header{"Accept": {restAccept}}})
	if err != nil {
		return "", err
	}
	body, rerr := io.ReadAll(io.LimitReader(r.Body, maxRESTBody))
	r.Body.Close()
	notREST := func(why string) (string, error) {
		c.restState = restNo
		c.log.Info("davclient: no SharePoint REST API on this server; large files cannot be uploaded in chunks", "url", c.web.Redacted(), "why", why)
		return "", &remote.Error{Kind: remote.ErrNotSupported, Op: op, Path: p, Status: r.StatusCode, Detail: "the server has no SharePoint REST API"}
	}
	switch {
	case r.StatusCode == http.StatusNotFound || r.StatusCode == http.StatusMethodNotAllowed || r.StatusCode == http.StatusNotImplemented,
		r.StatusCode/100 == 4 && !isSharePoint(r.Response):
		return notREST(fmt.Sprintf("contextinfo answered HTTP %d", r.StatusCode))
	case r.StatusCode/100 != 2:
		r.Body = io.NopCloser(bytes.NewReader(body))
		return "", statusError("contextinfo", p, r.Response)
	case rerr != nil:
		return "", &remote.Error{Kind: remote.ErrUnavailable, Op: "contextinfo", Path: p, Err: rerr}
	}
	d, timeout, err := parseContextInfo(body)
	if err != nil {
		if c.restState == restUnknown {
			return notREST("contextinfo answer is not SharePoint's JSON")
		}
		return "", &remote.Error{Kind: remote.ErrServer, Op: "contextinfo", Path: p, Status: r.StatusCode, Err: err}
	}
	c.restState = restYes
	life := time.Duration(timeout) * time.Second
	switch {
	case life > 2*time.Minute:
		life -= time.Minute
	case life > 0:
		life /= 2
	default:
		life = 10 * time.Minute
	}
	c.digest, c.digestTill = d, time.Now().Add(life)
	return d, nil
}

// isSharePoint recognises a SharePoint answer by the headers it puts on
// every response.
func isSharePoint(resp *http.Response) bool {
	return resp.Header.Get("SPRequestGuid") != "" || resp.Header.Get("MicrosoftSharePointTeamServices") != "" ||
		resp.Header.Get("X-MSDAVEXT_Error") != "" || strings.HasPrefix(strings.TrimSpace(resp.Header.Get("Content-Type")), "application/json")
}

// restPost sends a REST POST with the form digest, replaying once with a
// fresh digest when the server says "security validation". It returns
// the body of a 2xx answer.
func (c *Client) restPost(ctx context.Context, op, p, fn string, body io.ReaderAt, n int64) ([]byte, *reply, error) {
	return c.restPostURL(ctx, op, p, c.restURL(fn), "application/octet-stream", body, n)
}

// restPostURL is restPost to a whole URL, with the body's content type.
func (c *Client) restPostURL(ctx context.Context, op, p, u, ctype string, body io.ReaderAt, n int64) ([]byte, *reply, error) {
	force := false
	for try := 0; ; try++ {
		dg, err := c.formDigest(ctx, op, p, force)
		if err != nil {
			return nil, nil, err
		}
		h := http.Header{"Accept": {restAccept}, "X-RequestDigest": {dg}}
		k := call{op: op, path: p, method: http.MethodPost, url: u, header: h}
		if body != nil {
			h.Set("Content-Type", ctype)
			k.body, k.size = body, n
		}
		c.restCalls.Add(1)
		r, err := c.do(ctx, k)
		if err != nil {
			return nil, nil, err
		}
		data, rerr := io.ReadAll(io.LimitReader(r.Body, maxRESTBody))
		r.Body.Close()
		if r.StatusCode/100 == 2 {
			if rerr != nil {
				return nil, r, &remote.Error{Kind: remote.ErrUnavailable, Op: op, Path: p, Status: r.StatusCode, Err: rerr}
			}
			return data, r, nil
		}
		if r.StatusCode == http.StatusForbidden && parseRESTError(data).securityValidation() && try == 0 {
			c.log.Info("davclient: form digest refused; fetching a new one", "op", op, "path", p)
			force = true
			continue
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		return nil, r, statusError(op, p, r.Response)
	}
}

// RESTCalls reports how many REST requests the client sent (tests).
func (c *Client) RESTCalls() int64 { return c.restCalls.Load() }

func checkUploadArgs(op, p, id string, n int64) error {
	if !guidRE.MatchString(id) {
		return &remote.Error{Kind: remote.ErrServer, Op: op, Path: p, Detail: "upload id is not a GUID"}
	}
	if n > MaxRESTRequest {
		return &remote.Error{Kind: remote.ErrTooLarge, Op: op, Path: p, Detail: fmt.Sprintf("chunk of %d bytes exceeds SharePoint's %d-byte request limit", n, MaxRESTRequest)}
	}
	if n < 0 {
		return &remote.Error{Kind: remote.ErrServer, Op: op, Path: p, Detail: "negative chunk size"}
	}
	return nil
}

// StartUpload begins an upload session on p. A file that does not exist
// is first created empty (AddUsingPath, overwrite=false); an existing file
// is never truncated: its content changes only at FinishUpload.
func (c *Client) StartUpload(ctx context.Context, p, uploadID string, chunk io.ReaderAt, n int64) (int64, error) {
	p = remote.Clean(p)
	if err := checkUploadArgs("StartUpload", p, uploadID, n); err != nil {
		return 0, err
	}
	if why := c.noChunked.Load(); why != nil {
		return 0, &remote.Error{Kind: remote.ErrNotSupported, Op: "StartUpload", Path: p, Detail: *why}
	}
	if _, err := c.formDigest(ctx, "StartUpload", p, false); err != nil {
		return 0, err
	}
	created := false
	e, err := c.Stat(ctx, p)
	switch {
	case errors.Is(err, remote.ErrNotFound):
		created = true
		fn := c.folderAPI(remote.Dir(p)) + "/Files/AddUsingPath(decodedurl=" + odataString(remote.Base(p)) + ",overwrite=false)"
		_, _, aerr := c.restPost(ctx, "AddUsingPath", p, fn, nil, 0)
		if overThreshold(aerr) {
			// The call goes through the folder, which holds more than the
			// list-view threshold: the empty file is made with a WebDAV
			// PUT, addressed by its path, instead (docs/sharepoint.md).
			c.log.Info("davclient: folder over the list view threshold; creating the upload's file with a PUT", "path", p)
			_, aerr = c.Put(ctx, p, readerOrEmpty(nil), 0, remote.PutOptions{IfNoneMatch: true})
		}
		if aerr != nil {
			var re *remote.Error
			// Someone (or our own lost attempt) created it meanwhile: fine,
			// the session starts on the existing file.
			created = false
			if !(errors.As(aerr, &re) && (re.Kind == remote.ErrExists || re.Kind == remote.ErrPrecondition || alreadyExists(re))) {
				if errors.As(aerr, &re) && re.Kind == remote.ErrNotFound {
					// The folder is missing, as PUT reports it.
					re.Kind = remote.ErrConflict
				}
				return 0, aerr
			}
		}
	case err != nil:
		return 0, err
	case e.IsDir:
		return 0, &remote.Error{Kind: remote.ErrExists, Op: "StartUpload", Path: p, Detail: "a folder has this name"}
	}
	fn := c.fileAPI(p) + "/StartUpload(uploadId=guid'" + strings.ToLower(uploadID) + "')"
	data, _, err := c.restPost(ctx, "StartUpload", p, fn, readerOrEmpty(chunk), n)
	if err != nil {
		var re *remote.Error
		if errors.As(err, &re) && re.Kind == remote.ErrNotSupported {
			// The server has a REST API but no chunked upload (SharePoint
			// 2013: "Cannot find resource for the request StartUpload").
			// Said once; later uploads are refused without a request.
			why := "the server has no chunked upload API (" + re.Detail + ")"
			c.noChunked.Store(&why)
			c.log.Warn("davclient: the server has no chunked upload; files over the PUT limit cannot be uploaded", "path", p, "detail", re.Detail)
			if created {
				// The empty file AddUsingPath made for the session is ours:
				// leaving it would show a 0-byte file where none was.
				if derr := c.Delete(ctx, p); derr != nil {
					c.log.Warn("davclient: could not remove the empty file made for the upload session", "path", p, "err", derr)
				}
			}
		}
		return 0, err
	}
	off, err := parseOffset(data)
	if err != nil {
		return 0, &remote.Error{Kind: remote.ErrServer, Op: "StartUpload", Path: p, Err: err}
	}
	if off != n {
		return off, &remote.Error{Kind: remote.ErrServer, Op: "StartUpload", Path: p, Detail: fmt.Sprintf("server confirmed %d bytes of %d", off, n)}
	}
	return off, nil
}

// overThreshold reports a call refused for the list-view threshold (500
// SPQueryThrottledException, statusError's ErrForbidden).
func overThreshold(err error) bool {
	var re *remote.Error
	return errors.As(err, &re) && re.Kind == remote.ErrForbidden && re.Status == http.StatusInternalServerError
}

// alreadyExists recognises SharePoint's "file already exists" REST error.
func alreadyExists(e *remote.Error) bool {
	d := strings.ToLower(e.Detail)
	return strings.Contains(d, "already exists") || strings.HasPrefix(d, "-2130575257")
}

func readerOrEmpty(r io.ReaderAt) io.ReaderAt {
	if r == nil {
		return bytes.NewReader(nil)
	}
	return r
}

// ContinueUpload sends the chunk at offset. When the server no longer
// accepts the session, it asks GetUploadStatus: if an earlier attempt of
// this very chunk was applied (its answer lost), that is success;
// otherwise ErrUploadGone.
func (c *Client) ContinueUpload(ctx context.Context, p, uploadID string, offset int64, chunk io.ReaderAt, n int64) (int64, error) {
	p = remote.Clean(p)
	if err := checkUploadArgs("ContinueUpload", p, uploadID, n); err != nil {
		return 0, err
	}
	fn := c.fileAPI(p) + "/ContinueUpload(uploadId=guid'" + strings.ToLower(uploadID) + "',fileOffset=" + strconv.FormatInt(offset, 10) + ")"
	data, r, err := c.restPost(ctx, "ContinueUpload", p, fn, readerOrEmpty(chunk), n)
	if err != nil {
		serr := c.sessionError(ctx, p, uploadID, offset, n, r, err)
		if serr == errChunkApplied {
			c.log.Info("davclient: chunk was applied by an earlier attempt whose answer was lost", "path", p, "offset", offset)
			return offset + n, nil
		}
		return 0, serr
	}
	off, perr := parseOffset(data)
	if perr != nil {
		return 0, &remote.Error{Kind: remote.ErrServer, Op: "ContinueUpload", Path: p, Err: perr}
	}
	if off != offset+n {
		return off, &remote.Error{Kind: remote.ErrServer, Op: "ContinueUpload", Path: p, Detail: fmt.Sprintf("server confirmed offset %d, expected %d", off, offset+n)}
	}
	return off, nil
}

// sessionError decides what a failed chunk call means. Errors the retry
// wrapper already made final (auth, throttling, network, too large) pass
// through; a 4xx about the session becomes ErrUploadGone unless
// GetUploadStatus shows the server already holds exactly this chunk, in
// which case it returns errChunkApplied for the caller to turn into
// success.
func (c *Client) sessionError(ctx context.Context, p, id string, offset, n int64, r *reply, err error) error {
	var re *remote.Error
	if !errors.As(err, &re) || r == nil {
		return err
	}
	switch re.Kind {
	case remote.ErrAuth, remote.ErrThrottled, remote.ErrUnavailable, remote.ErrTooLarge, remote.ErrForbidden, remote.ErrNotSupported:
		return err
	}
	if re.Status < 400 || re.Status >= 500 {
		return err
	}
	exp, serr := c.uploadStatus(ctx, p, id)
	if serr == nil && exp == offset+n {
		// The server already holds this chunk: an earlier attempt whose
		// answer was lost, or a previous process that died before it saved
		// the new offset. The upload id names one staged content, so the
		// bytes are the same.
		return errChunkApplied
	}
	detail := re.Detail
	if serr == nil {
		detail = fmt.Sprintf("server expects offset %d, not %d", exp, offset)
		c.abandonSession(ctx, p, id, detail)
	}
	return &remote.Error{Kind: remote.ErrUploadGone, Op: re.Op, Path: p, Status: re.Status, Detail: detail, Err: re}
}

// abandonSession cancels a session the client is giving up (ErrUploadGone)
// although the server still holds it open. SharePoint locks the file for
// an open session, so the caller's fresh start with a new upload id would
// be refused (423) until the abandoned session expired (30 minutes). The
// file's content is not touched: it changes only at FinishUpload.
func (c *Client) abandonSession(ctx context.Context, p, id, why string) {
	if err := c.CancelUpload(ctx, p, id); err != nil {
		c.log.Warn("davclient: could not cancel an abandoned upload session; the file stays locked until it expires", "path", p, "why", why, "err", err)
		return
	}
	c.log.Info("davclient: cancelled an upload session that can no longer be used", "path", p, "why", why)
}

var errChunkApplied = errors.New("chunk applied by an earlier attempt")

// UploadOffset asks the server (GetUploadStatus) for the confirmed offset
// of a session: a restarted process whose saved offset may lag behind the
// server's can resume from the server's. ErrUploadGone when the server no
// longer knows the session; ErrNotSupported without a REST API.
func (c *Client) UploadOffset(ctx context.Context, p, uploadID string) (int64, error) {
	p = remote.Clean(p)
	if err := checkUploadArgs("GetUploadStatus", p, uploadID, 0); err != nil {
		return 0, err
	}
	off, err := c.uploadStatus(ctx, p, uploadID)
	var re *remote.Error
	if errors.As(err, &re) && re.Status >= 400 && re.Status < 500 && re.Kind != remote.ErrAuth && re.Kind != remote.ErrThrottled && re.Kind != remote.ErrForbidden {
		return 0, &remote.Error{Kind: remote.ErrUploadGone, Op: "GetUploadStatus", Path: p, Status: re.Status, Detail: re.Detail, Err: re}
	}
	if err != nil && !errors.As(err, &re) {
		return 0, &remote.Error{Kind: remote.ErrServer, Op: "GetUploadStatus", Path: p, Err: err}
	}
	return off, err
}

// uploadStatus asks GetUploadStatus for the offset the server expects next.
func (c *Client) uploadStatus(ctx context.Context, p, id string) (int64, error) {
	fn := c.fileAPI(p) + "/GetUploadStatus(uploadId=guid'" + strings.ToLower(id) + "')"
	data, _, err := c.restPost(ctx, "GetUploadStatus", p, fn, nil, 0)
	if err != nil {
		return 0, err
	}
	return parseUploadStatus(data)
}

// FinishUpload sends the last chunk and commits the file.
func (c *Client) FinishUpload(ctx context.Context, p, uploadID string, offset int64, chunk io.ReaderAt, n int64) (string, error) {
	p = remote.Clean(p)
	if err := checkUploadArgs("FinishUpload", p, uploadID, n); err != nil {
		return "", err
	}
	fn := c.fileAPI(p) + "/FinishUpload(uploadId=guid'" + strings.ToLower(uploadID) + "',fileOffset=" + strconv.FormatInt(offset, 10) + ")"
	data, r, err := c.restPost(ctx, "FinishUpload", p, fn, readerOrEmpty(chunk), n)
	if err != nil {
		serr := c.sessionError(ctx, p, uploadID, offset, n, r, err)
		if serr == errChunkApplied {
			// The session still expects offset+n, so the file was not
			// committed: this cannot happen for FinishUpload; be safe,
			// and release the session's lock for the fresh start.
			c.abandonSession(ctx, p, uploadID, "FinishUpload refused while the session expects more bytes")
			serr = &remote.Error{Kind: remote.ErrUploadGone, Op: "FinishUpload", Path: p, Detail: "session in an unexpected state"}
		}
		return "", serr
	}
	f, perr := parseSPFile(data)
	if perr != nil {
		return "", &remote.Error{Kind: remote.ErrServer, Op: "FinishUpload", Path: p, Err: perr}
	}
	if f.Length >= 0 && f.Length != offset+n {
		c.log.Warn("davclient: committed size differs from the bytes sent (SharePoint modifies Office files)", "path", p, "sent", offset+n, "stored", f.Length)
	}
	return f.ETag, nil
}

// CancelUpload abandons a session; an unknown session is not an error.
func (c *Client) CancelUpload(ctx context.Context, p, uploadID string) error {
	p = remote.Clean(p)
	if err := checkUploadArgs("CancelUpload", p, uploadID, 0); err != nil {
		return err
	}
	fn := c.fileAPI(p) + "/CancelUpload(uploadId=guid'" + strings.ToLower(uploadID) + "')"
	_, _, err := c.restPost(ctx, "CancelUpload", p, fn, nil, 0)
	var re *remote.Error
	if errors.As(err, &re) && re.Status >= 400 && re.Status < 500 && re.Kind != remote.ErrAuth && re.Kind != remote.ErrThrottled && re.Kind != remote.ErrForbidden {
		return nil
	}
	return err
}

// --- JSON shapes -----------------------------------------------------------

// unwrapVerbose returns the object inside {"d":{…}} or the object itself.
func unwrapVerbose(body []byte) (map[string]json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimSpace(body), &top); err != nil {
		return nil, fmt.Errorf("REST answer is not a JSON object: %w", err)
	}
	if d, ok := top["d"]; ok {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(d, &inner); err != nil {
			return nil, errors.New(`REST answer: "d" is not an object`)
		}
		return inner, nil
	}
	return top, nil
}

// jsonInt64 reads an Edm.Int64 sent as a string ("10485760") or a number.
func jsonInt64(raw json.RawMessage) (int64, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("not an integer")
	}
	return n.Int64()
}

// parseOffset reads StartUpload/ContinueUpload answers:
// {"d":{"StartUpload":"n"}}, {"d":{"ContinueUpload":"n"}}, {"value":"n"}.
func parseOffset(body []byte) (int64, error) {
	m, err := unwrapVerbose(body)
	if err != nil {
		return 0, err
	}
	for _, k := range []string{"value", "StartUpload", "ContinueUpload"} {
		if raw, ok := m[k]; ok {
			n, err := jsonInt64(raw)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("REST offset %s is not a non-negative Int64", k)
			}
			return n, nil
		}
	}
	return 0, errors.New("REST answer holds no offset")
}

// contextInfo is what /_api/contextinfo returns that the client uses.
func parseContextInfo(body []byte) (digest string, timeoutSeconds int64, err error) {
	m, err := unwrapVerbose(body)
	if err != nil {
		return "", 0, err
	}
	if inner, ok := m["GetContextWebInformation"]; ok {
		var mm map[string]json.RawMessage
		if json.Unmarshal(inner, &mm) != nil {
			return "", 0, errors.New("contextinfo: GetContextWebInformation is not an object")
		}
		m = mm
	}
	if err := json.Unmarshal(m["FormDigestValue"], &digest); err != nil || digest == "" {
		return "", 0, errors.New("contextinfo: no FormDigestValue")
	}
	if strings.ContainsAny(digest, "\r\n\x00") {
		return "", 0, errors.New("contextinfo: FormDigestValue cannot be sent as a header")
	}
	if raw, ok := m["FormDigestTimeoutSeconds"]; ok {
		if n, err := jsonInt64(raw); err == nil && n > 0 {
			timeoutSeconds = n
		}
	}
	return digest, timeoutSeconds, nil
}

// spFile is the part of SP.File the client uses.
type spFile struct {
	ETag   string
	Length int64 // -1 when absent
	Name   string
}

func parseSPFile(body []byte) (spFile, error) {
	f := spFile{Length: -1}
	m, err := unwrapVerbose(body)
	if err != nil {
		return f, err
	}
	if raw, ok := m["ETag"]; ok {
		_ = json.Unmarshal(raw, &f.ETag)
	}
	if raw, ok := m["Length"]; ok {
		if n, err := jsonInt64(raw); err == nil && n >= 0 {
			f.Length = n
		}
	}
	if raw, ok := m["Name"]; ok {
		_ = json.Unmarshal(raw, &f.Name)
	}
	if f.ETag == "" && f.Name == "" {
		return f, errors.New("REST answer is not an SP.File")
	}
	return f, nil
}

// parseUploadStatus reads SP.Utilities.UploadStatus; ExpectedContentRange
// is "n-" (or "n-m"); the offset expected next is n.
func parseUploadStatus(body []byte) (int64, error) {
	m, err := unwrapVerbose(body)
	if err != nil {
		return 0, err
	}
	if inner, ok := m["GetUploadStatus"]; ok {
		var mm map[string]json.RawMessage
		if json.Unmarshal(inner, &mm) == nil {
			m = mm
		}
	}
	var r string
	if err := json.Unmarshal(m["ExpectedContentRange"], &r); err != nil {
		return 0, errors.New("upload status without ExpectedContentRange")
	}
	a, _, _ := strings.Cut(strings.TrimSpace(r), "-")
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("upload status: ExpectedContentRange is not \"n-\"")
	}
	return n, nil
}
