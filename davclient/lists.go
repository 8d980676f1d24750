package davclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/odfb/odfb/remote"
)

// DocumentLibrary is one document library of a site.
type DocumentLibrary struct {
	Title string // the name users see ("Documents", "Team Files")
	URL   string // its absolute URL, escaped ("https://host/sites/team/Shared%20Documents")
}

// documentLibraryTemplate is SharePoint's list template of a document
// library (SP.ListTemplateType.DocumentLibrary).
const documentLibraryTemplate = 101

// DocumentLibraries lists the document libraries of the client's site
// (Options.WebURL): GET _api/web/lists with each list's template, hidden
// flag and root folder, keeping the visible lists of template 101. The
// filtering is done here, not with $filter, so a server that ignores
// query options still gives the right answer.
func (c *Client) DocumentLibraries(ctx context.Context) ([]DocumentLibrary, error) {
	u := c.restURL("web/lists") + "?$select=Title,Hidden,BaseTemplate,RootFolder/ServerRelativeUrl&$expand=RootFolder"
	c.restCalls.Add(1)
	r, err := c.do(ctx, call{op: "lists", path: "/", method: http.MethodGet, url: u, header: http.Header{"Accept": {restAccept}}})
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	if r.StatusCode/100 != 2 {
		return nil, statusError("lists", "/", r.Response)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRESTBody))
	if err != nil {
		return nil, &remote.Error{Kind: remote.ErrUnavailable, Op: "lists", Path: "/", Err: err}
	}
	return parseLists(body, c.web.Scheme+"://"+c.web.Host)
}

// parseLists reads the answer of _api/web/lists in the verbose
// ({"d":{"results":[…]}}) or the nometadata ({"value":[…]}) form.
func parseLists(body []byte, origin string) ([]DocumentLibrary, error) {
	type list struct {
		Title        string
		Hidden       bool
		BaseTemplate int
		RootFolder   struct{ ServerRelativeUrl string }
	}
	var doc struct {
		D struct {
			Results []list `json:"results"`
		} `json:"d"`
		Value []list `json:"value"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &remote.Error{Kind: remote.ErrServer, Op: "lists", Path: "/", Err: fmt.Errorf("the list of lists is not SharePoint's JSON: %v", err)}
	}
	var out []DocumentLibrary
	for _, l := range append(doc.D.Results, doc.Value...) {
		p := l.RootFolder.ServerRelativeUrl
		if l.BaseTemplate != documentLibraryTemplate || l.Hidden || !strings.HasPrefix(p, "/") {
			continue
		}
		var esc strings.Builder
		for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
			esc.WriteString("/" + url.PathEscape(seg))
		}
		out = append(out, DocumentLibrary{Title: l.Title, URL: origin + esc.String()})
	}
	return out, nil
}
