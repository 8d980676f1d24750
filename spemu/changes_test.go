package spemu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/odfb/odfb/spemu"
)

// listCall sends a REST call on the library's list, addressed by path
// (GetListUsingPath(DecodedUrl=@a1)?@a1='<library>').
func (h *restHarness) listCall(method, fn, body string) restResp {
	h.t.Helper()
	u := h.base + h.site + "/_api/web/GetListUsingPath(DecodedUrl=@a1)/" + fn + "?@a1=" + url.QueryEscape(lit(h.lib))
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Cookie", h.cookie)
	req.Header.Set("Accept", verboseJSON)
	if method == http.MethodPost {
		req.Header.Set("X-RequestDigest", h.digest())
		req.Header.Set("Content-Type", verboseJSON)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, fn, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := restResp{status: resp.StatusCode, hdr: resp.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	return r
}

func (h *restHarness) currentToken() string {
	h.t.Helper()
	r := h.listCall(http.MethodGet, "CurrentChangeToken", "")
	if r.status != 200 {
		h.t.Fatalf("CurrentChangeToken: %d %s", r.status, r.body)
	}
	return r.json["d"].(map[string]any)["StringValue"].(string)
}

type seenChange struct {
	typ   int
	url   string
	token string
	dir   bool
	id    string
}

func (h *restHarness) getChanges(token string, limit int) ([]seenChange, restResp) {
	h.t.Helper()
	q := fmt.Sprintf(`{"query":{"__metadata":{"type":"SP.ChangeQuery"},"Item":true,"Add":true,"Update":true,"DeleteObject":true,"Rename":true,"Move":true,"Restore":true,"FetchLimit":%d,"ChangeTokenStart":{"__metadata":{"type":"SP.ChangeToken"},"StringValue":%q}}}`, limit, token)
	r := h.listCall(http.MethodPost, "GetChanges", q)
	if r.status != 200 {
		return nil, r
	}
	var out []seenChange
	for _, x := range r.json["d"].(map[string]any)["results"].([]any) {
		m := x.(map[string]any)
		out = append(out, seenChange{typ: int(m["ChangeType"].(float64)), url: m["ServerRelativeUrl"].(string),
			token: m["ChangeToken"].(map[string]any)["StringValue"].(string), dir: m["FileSystemObjectType"].(float64) == 1,
			id: m["UniqueId"].(string)})
	}
	return out, r
}

func TestChangeLogRecordsEveryWritePath(t *testing.T) {
	h := startREST(t)
	tok := h.currentToken()
	if f := strings.Split(tok, ";"); len(f) != 5 || f[0] != "1" || f[1] != "3" {
		t.Fatalf("token %q is not SharePoint's 1;3;<list>;<ticks>;<n>", tok)
	}
	dav := func(method, p string, body string, hdr ...string) {
		t.Helper()
		req, _ := http.NewRequest(method, h.base+h.lib+p, strings.NewReader(body))
		req.Header.Set("Cookie", h.cookie)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d", method, p, res.StatusCode)
		}
	}
	dav("MKCOL", "/d", "")
	dav("PUT", "/d/a.txt", "one")
	dav("PUT", "/d/a.txt", "two")
	dav("MOVE", "/d/a.txt", "", "Destination", h.base+h.lib+"/d/b.txt")
	dav("MOVE", "/d/b.txt", "", "Destination", h.base+h.lib+"/b.txt")
	dav("COPY", "/b.txt", "", "Destination", h.base+h.lib+"/d/c.txt")
	dav("DELETE", "/b.txt", "")
	if err := h.srv.WriteFile("/api.txt", []byte("x")); err != nil { // another client, through the API
		t.Fatal(err)
	}
	got, r := h.getChanges(tok, 0)
	if r.status != 200 {
		t.Fatalf("GetChanges: %d %s", r.status, r.body)
	}
	want := []struct {
		typ int
		url string
	}{
		{spemu.ChangeAdd, h.lib + "/d"}, {spemu.ChangeAdd, h.lib + "/d/a.txt"}, {spemu.ChangeUpdate, h.lib + "/d/a.txt"},
		{spemu.ChangeRename, h.lib + "/d/b.txt"}, {spemu.ChangeMoveInto, h.lib + "/b.txt"}, {spemu.ChangeAdd, h.lib + "/d/c.txt"},
		{spemu.ChangeDelete, ""}, {spemu.ChangeAdd, h.lib + "/api.txt"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d changes %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].typ != w.typ || got[i].url != w.url {
			t.Errorf("change %d: type %d url %q, want %d %q", i, got[i].typ, got[i].url, w.typ, w.url)
		}
	}
	if !got[0].dir || got[1].dir {
		t.Errorf("FileSystemObjectType: folder %v file %v", got[0].dir, got[1].dir)
	}
	if got[1].id != got[4].id || got[4].id != got[6].id {
		t.Errorf("a moved and deleted file keeps its UniqueId: %q %q %q", got[1].id, got[4].id, got[6].id)
	}
	etag, _ := h.srv.ETag("/d/c.txt")
	if !strings.Contains(strings.ToLower(etag), got[5].id) {
		t.Errorf("UniqueId %q is not the GUID of the ETag %s", got[5].id, etag)
	}
	// Nothing since the last token; the current token is the last change's.
	if more, _ := h.getChanges(got[len(got)-1].token, 0); len(more) != 0 {
		t.Errorf("changes after the last token: %+v", more)
	}
	if cur := h.currentToken(); cur != got[len(got)-1].token {
		t.Errorf("CurrentChangeToken %q, want the last change's %q", cur, got[len(got)-1].token)
	}
}

func TestChangeLogPagesAndExpires(t *testing.T) {
	h := startREST(t)
	tok := h.currentToken()
	for i := range 5 {
		if err := h.srv.WriteFile(fmt.Sprintf("/f%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	page, _ := h.getChanges(tok, 2)
	if len(page) != 2 {
		t.Fatalf("FetchLimit 2: %d changes", len(page))
	}
	h.srv.SetChangePageLimit(1)
	rest, _ := h.getChanges(page[1].token, 0)
	if len(rest) != 1 || rest[0].url != h.lib+"/f2" {
		t.Fatalf("page limit 1 from the second change: %+v", rest)
	}
	h.srv.SetChangePageLimit(0)
	rest, _ = h.getChanges(page[1].token, 0)
	if len(rest) != 3 {
		t.Fatalf("from the second change: %d changes, want 3", len(rest))
	}

	h.srv.ExpireChangeLog()
	_, r := h.getChanges(tok, 0)
	if _, code, _ := errCode(r); r.status != 500 || !strings.Contains(code, "SPInvalidChangeTokenException") {
		t.Fatalf("expired token: %d %s", r.status, r.body)
	}
	_, r = h.getChanges("1;3;00000000-0000-0000-0000-000000000000;1;1", 0)
	if _, code, _ := errCode(r); r.status != 500 || !strings.Contains(code, "-2130575173") {
		t.Fatalf("another list's token: %d %s", r.status, r.body)
	}
	if got, _ := h.getChanges(h.currentToken(), 0); len(got) != 0 {
		t.Fatalf("a token taken after the expiry works: %+v", got)
	}
}

func TestChangeLogSwitches(t *testing.T) {
	h := startREST(t)
	h.srv.SetChangeLogMode(spemu.ChangeLogAbsent)
	if r := h.listCall(http.MethodGet, "CurrentChangeToken", ""); r.status != 404 {
		t.Fatalf("absent: %d %s", r.status, r.body)
	}
	h.srv.SetChangeLogMode(spemu.ChangeLogGarbled)
	r := h.listCall(http.MethodGet, "CurrentChangeToken", "")
	if r.status != 200 || strings.Contains(string(r.body), "StringValue") {
		t.Fatalf("garbled: %d %s", r.status, r.body)
	}
}
