package davclient

// The library's change log (remote.ChangeLog; docs/sharepoint.md "Change
// log"). Both calls address the list by its path, so no list GUID has to
// be looked up first, and neither is a query over the list's items, so
// the list-view threshold does not apply to them:
//
//	GET  <web>/_api/web/GetListUsingPath(DecodedUrl=@a1)/CurrentChangeToken?@a1='<library path>'
//	POST <web>/_api/web/GetListUsingPath(DecodedUrl=@a1)/GetChanges?@a1='<library path>'
//	     {"query":{"__metadata":{"type":"SP.ChangeQuery"},"Item":true,"Add":true,"Update":true,
//	      "SystemUpdate":true,"DeleteObject":true,"Rename":true,"Move":true,"Restore":true,
//	      "FetchLimit":1000,"ChangeTokenStart":{"__metadata":{"type":"SP.ChangeToken"},"StringValue":"<token>"}}}

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/odfb/odfb/remote"
)

var _ remote.ChangeLog = (*Client)(nil)

// ChangeFetchLimit is the FetchLimit of one GetChanges call (SharePoint's
// default is 1000, its maximum 2000).
const ChangeFetchLimit = 1000

// maxChangePages bounds the GetChanges calls of one Changes: past it the
// log holds more than re-listing the changed folders is worth.
const maxChangePages = 10

// listURL is the URL of a REST call on the library's list.
func (c *Client) listURL(fn string) string {
	return c.restURL("web/GetListUsingPath(DecodedUrl=@a1)/"+fn) + "?@a1=" + url.QueryEscape(odataString(c.basePath))
}

// noChangeLog is the error of a server without the change log.
func noChangeLog(op, detail string, status int) error {
	return &remote.Error{Kind: remote.ErrNotSupported, Op: op, Path: "/", Status: status, Detail: detail}
}

// ChangeToken returns the list's CurrentChangeToken.
func (c *Client) ChangeToken(ctx context.Context) (string, error) {
	const op = "CurrentChangeToken"
	// The form digest GetChanges will need is fetched now, with the
	// token, so that a later change query is one request; its answer
	// also says whether the server has a REST API at all.
	if _, err := c.formDigest(ctx, op, "/", false); err != nil {
		return "", changeLogError(op, err)
	}
	c.restCalls.Add(1)
	r, err := c.do(ctx, call{op: op, path: "/", method: http.MethodGet, url: c.listURL("CurrentChangeToken"),
		header: http.Header{"Accept": {restAccept}}})
	if err != nil {
		return "", changeLogError(op, err)
	}
	body, rerr := io.ReadAll(io.LimitReader(r.Body, maxRESTBody))
	r.Body.Close()
	if rerr != nil {
		return "", &remote.Error{Kind: remote.ErrUnavailable, Op: op, Path: "/", Err: rerr}
	}
	if r.StatusCode/100 != 2 {
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		return "", changeLogError(op, statusError(op, "/", r.Response))
	}
	m, err := unwrapVerbose(body)
	var tok string
	if err == nil {
		err = json.Unmarshal(m["StringValue"], &tok)
	}
	if err != nil || !plausibleToken(tok) {
		return "", noChangeLog(op, "the change token answer is not understood", r.StatusCode)
	}
	return tok, nil
}

// changeLogError turns "not found" and "no such function" into
// ErrNotSupported: a server without the list API or the change log.
func changeLogError(op string, err error) error {
	var e *remote.Error
	if errors.As(err, &e) && (e.Kind == remote.ErrNotFound || e.Kind == remote.ErrNotSupported ||
		e.Status == http.StatusMethodNotAllowed || e.Status == http.StatusNotImplemented ||
		(e.Status == http.StatusBadRequest && e.Kind == remote.ErrServer)) {
		return noChangeLog(op, "the server has no change log API ("+e.Error()+")", e.Status)
	}
	return err
}

// plausibleToken checks the form SharePoint's tokens have
// ("1;3;<list guid>;<ticks>;<change number>"); others are taken as they
// come when they are not empty and hold no control characters.
func plausibleToken(t string) bool {
	if t == "" || len(t) > 512 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < 0x20 || t[i] == 0x7f {
			return false
		}
	}
	return true
}

// Changes returns the changes after token, paging through GetChanges.
func (c *Client) Changes(ctx context.Context, token string) ([]remote.Change, string, bool, error) {
	var all []remote.Change
	for page := 0; page < maxChangePages; page++ {
		got, last, err := c.changesPage(ctx, token)
		if err != nil {
			return nil, "", false, err
		}
		all = append(all, got...)
		if last != "" {
			token = last
		}
		if len(got) < ChangeFetchLimit {
			return all, token, false, nil
		}
	}
	return all, token, true, nil
}

// changeQueryBody is the SP.ChangeQuery of one page.
func changeQueryBody(token string) []byte {
	q := map[string]any{
		"__metadata": map[string]string{"type": "SP.ChangeQuery"},
		"Item":       true, "Add": true, "Update": true, "SystemUpdate": true, "DeleteObject": true,
		"Rename": true, "Move": true, "Restore": true, "FetchLimit": ChangeFetchLimit,
		"ChangeTokenStart": map[string]any{"__metadata": map[string]string{"type": "SP.ChangeToken"}, "StringValue": token},
	}
	b, _ := json.Marshal(map[string]any{"query": q})
	return b
}

// changesPage sends one GetChanges and returns its changes and the token
// of the last one ("" when there were none).
func (c *Client) changesPage(ctx context.Context, token string) ([]remote.Change, string, error) {
	const op = "GetChanges"
	body := changeQueryBody(token)
	data, r, err := c.restPostURL(ctx, op, "/", c.listURL("GetChanges"), restAccept, bytesReader(body), int64(len(body)))
	if err != nil {
		return nil, "", changeLogError(op, err)
	}
	changes, last, perr := c.parseChanges(data)
	if perr != nil {
		c.log.Warn("davclient: the change log's answer is not understood", "err", perr)
		return nil, "", noChangeLog(op, "answer not understood: "+perr.Error(), r.StatusCode)
	}
	return changes, last, nil
}

// wireChange is one SP.ChangeItem as it comes.
type wireChange struct {
	Metadata struct {
		Type string `json:"type"`
	} `json:"__metadata"`
	ODataType   string `json:"odata.type"`
	ChangeToken *struct {
		StringValue string `json:"StringValue"`
	} `json:"ChangeToken"`
	ChangeType           *int    `json:"ChangeType"`
	ServerRelativeURL    *string `json:"ServerRelativeUrl"`
	UniqueID             string  `json:"UniqueId"`
	FileSystemObjectType int     `json:"FileSystemObjectType"`
}

// parseChanges reads {"d":{"results":[…]}} or {"value":[…]}.
func (c *Client) parseChanges(data []byte) ([]remote.Change, string, error) {
	var top struct {
		D *struct {
			Results *[]wireChange `json:"results"`
		} `json:"d"`
		Value *[]wireChange `json:"value"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, "", fmt.Errorf("not JSON: %w", err)
	}
	var list *[]wireChange
	switch {
	case top.D != nil && top.D.Results != nil:
		list = top.D.Results
	case top.Value != nil:
		list = top.Value
	default:
		return nil, "", errors.New("no change collection in the answer")
	}
	out := make([]remote.Change, 0, len(*list))
	last := ""
	for i, w := range *list {
		if w.ChangeToken == nil || !plausibleToken(w.ChangeToken.StringValue) || w.ChangeType == nil {
			return nil, "", fmt.Errorf("change %d has no token or type", i)
		}
		last = w.ChangeToken.StringValue
		typ := w.Metadata.Type
		if typ == "" {
			typ = w.ODataType
		}
		if typ != "" && typ != "SP.ChangeItem" {
			continue // a change of another kind of object (web, list, field)
		}
		ch := remote.Change{Type: remote.ChangeType(*w.ChangeType), ID: normGUID(w.UniqueID), IsDir: w.FileSystemObjectType == 1}
		if w.ServerRelativeURL != nil && *w.ServerRelativeURL != "" {
			if !strings.HasPrefix(*w.ServerRelativeURL, "/") {
				return nil, "", fmt.Errorf("change %d names %q, not a server-relative path", i, *w.ServerRelativeURL)
			}
			if p, ok := relToRoot(c.basePath, *w.ServerRelativeURL); ok {
				ch.Path = p
			} else {
				ch.Outside = true
			}
		}
		out = append(out, ch)
	}
	return out, last, nil
}

// normGUID lower-cases a GUID and drops braces.
func normGUID(s string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}"))
}

// bytesReader is a ReaderAt over b.
func bytesReader(b []byte) io.ReaderAt { return strings.NewReader(string(b)) }
