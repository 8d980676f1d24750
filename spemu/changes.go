package spemu

// The library's change log (docs/sharepoint.md "Change log"): every
// change the store makes — a WebDAV PUT, MKCOL, DELETE, MOVE, COPY or
// PROPPATCH, a REST upload, WriteFile/Remove/Mkdir of the API, and a file
// found changed on disk behind spemu's back the first time spemu notices
// — is one entry with its change number. Two REST calls read it, as on
// SharePoint Online:
//
//	GET  <site>/_api/web/GetListUsingPath(DecodedUrl=@a1)/CurrentChangeToken?@a1='<library>'
//	POST <site>/_api/web/GetListUsingPath(DecodedUrl=@a1)/GetChanges?@a1='<library>'
//	     {"query":{"Item":true,"Add":true,…,"ChangeTokenStart":{"StringValue":"<token>"},"FetchLimit":N}}
//
// (GetList(@a1) and GetList('<library>') address the list too.) Tokens
// are SharePoint's string form "1;3;<list guid>;<ticks>;<change number>".
// GetChanges answers the changes after the token, oldest first, at most
// FetchLimit of them (default 1000, at most 2000, and at most the page
// limit set with SetChangePageLimit); each carries its own ChangeToken,
// and a client continues from the last one until a page is short.
//
// Switches: ExpireChangeLog (the log's retention passed: every token
// handed out so far is refused with SPInvalidChangeTokenException),
// SetChangeLogMode (ChangeLogAbsent: the calls answer 404 like a server
// without them; ChangeLogGarbled: a 200 whose body is not the change
// collection), SetChangePageLimit.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SharePoint's change types (SP.ChangeType).
const (
	ChangeAdd      = 1
	ChangeUpdate   = 2
	ChangeDelete   = 3
	ChangeRename   = 4
	ChangeMoveAway = 5
	ChangeMoveInto = 6
)

// ChangeLogMode selects how the change log API answers.
type ChangeLogMode int

const (
	// ChangeLogOn answers as SharePoint Online does (the default).
	ChangeLogOn ChangeLogMode = iota
	// ChangeLogAbsent answers 404 "Cannot find resource", as a server
	// without the API would.
	ChangeLogAbsent
	// ChangeLogGarbled answers 200 with a body that is not a change
	// collection (a client must not trust it).
	ChangeLogGarbled
)

const (
	codeInvalidToken  = "-2130575172, Microsoft.SharePoint.SPInvalidChangeTokenException"
	codeTokenNotList  = "-2130575173, Microsoft.SharePoint.SPException"
	invalidTokenText  = "The change token is invalid."
	tokenNotListText  = "Change token is not valid for this list."
	defaultFetchLimit = 1000
	maxFetchLimit     = 2000
)

// loggedChange is one entry of the change log.
type loggedChange struct {
	n      int64
	at     time.Time
	typ    int
	guid   string // item's unique id (upper case, as in its ETag)
	lib    string // library path after the change ("" for a deletion)
	isDir  bool
	itemID int
}

type changeLog struct {
	mu        sync.Mutex
	listID    string // lower-case GUID
	first     int64  // the oldest change number a token may name
	next      int64  // number of the next change
	entries   []loggedChange
	ids       map[string]int // item GUID → list item id
	mode      ChangeLogMode
	pageLimit int
}

type changeKey struct{}

func (s *Server) changes() *changeLog {
	return s.extState(changeKey{}, func() any {
		return &changeLog{listID: strings.ToLower(newGUID()), first: 1, next: 1, ids: map[string]int{}}
	}).(*changeLog)
}

// recordChange is the store's hook (store.onChange): called under the
// store's lock for each change it makes.
func (s *Server) recordChange(typ int, lib, guid string, isDir bool) {
	cl := s.changes()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	id, ok := cl.ids[guid]
	if !ok {
		id = len(cl.ids) + 1
		cl.ids[guid] = id
	}
	if typ == ChangeDelete {
		lib = "" // SharePoint leaves ServerRelativeUrl empty on deletions [obs]
	}
	cl.entries = append(cl.entries, loggedChange{n: cl.next, at: time.Now().UTC(), typ: typ, guid: guid, lib: lib, isDir: isDir, itemID: id})
	cl.next++
}

// ExpireChangeLog plays the end of the log's retention: every change so
// far is dropped and every token handed out before is refused.
func (s *Server) ExpireChangeLog() {
	cl := s.changes()
	cl.mu.Lock()
	cl.entries = nil
	cl.next++ // a change the log no longer holds: older tokens point before its start
	cl.first = cl.next
	cl.mu.Unlock()
}

// SetChangeLogMode switches the change log API on, off or garbled.
func (s *Server) SetChangeLogMode(m ChangeLogMode) {
	cl := s.changes()
	cl.mu.Lock()
	cl.mode = m
	cl.mu.Unlock()
}

// SetChangePageLimit caps the changes of one GetChanges answer below the
// client's FetchLimit (0: no cap of spemu's own), so tests page.
func (s *Server) SetChangePageLimit(n int) {
	cl := s.changes()
	cl.mu.Lock()
	cl.pageLimit = n
	cl.mu.Unlock()
}

// ChangeCount reports how many changes the log holds.
func (s *Server) ChangeCount() int {
	cl := s.changes()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return len(cl.entries)
}

// netTicks is a time in .NET ticks (100 ns since 0001-01-01).
func netTicks(t time.Time) int64 { return t.UnixNano()/100 + 621355968000000000 }

// tokenLocked is the token of change number n (n = first-1 … next-1).
func (cl *changeLog) tokenLocked(n int64, at time.Time) string {
	return fmt.Sprintf("1;3;%s;%d;%d", cl.listID, netTicks(at), n)
}

// currentLocked is the token after the last change.
func (cl *changeLog) currentLocked() string {
	at := time.Now().UTC()
	if len(cl.entries) > 0 {
		at = cl.entries[len(cl.entries)-1].at
	}
	return cl.tokenLocked(cl.next-1, at)
}

// parseToken checks a token's form and list and returns its change number.
func (cl *changeLog) parseToken(tok string) (int64, string, string) {
	f := strings.Split(tok, ";")
	if len(f) != 5 || f[0] != "1" || f[1] != "3" {
		return 0, codeInvalidToken, invalidTokenText
	}
	if !strings.EqualFold(f[2], cl.listID) {
		return 0, codeTokenNotList, tokenNotListText
	}
	if _, err := strconv.ParseInt(f[3], 10, 64); err != nil {
		return 0, codeInvalidToken, invalidTokenText
	}
	n, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil || n < cl.first-1 || n > cl.next-1 {
		return 0, codeInvalidToken, invalidTokenText
	}
	return n, "", ""
}

// isListCall reports a REST path addressed to the library's list.
func isListCall(c odataCall) bool {
	n := strings.ToLower(c.name)
	return n == "getlistusingpath" || n == "getlist"
}

// listArg returns the decoded server-relative URL a list call names:
// DecodedUrl=@a1 (or a positional @a1) resolved from the query string, or
// a literal.
func listArg(r *http.Request, c odataCall) string {
	v, ok := c.args["decodedurl"]
	if !ok {
		v = c.args[""]
	}
	if strings.HasPrefix(v, "@") {
		raw := r.URL.Query().Get(v)
		if len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'' {
			raw = strings.ReplaceAll(raw[1:len(raw)-1], "''", "'")
		}
		v = raw
	}
	return v
}

// serveList answers the calls on the library's list: CurrentChangeToken
// and GetChanges.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, calls []odataCall) {
	if p, ok := s.libPathOf(listArg(r, calls[1])); !ok || p != "/" {
		restError(w, r, http.StatusNotFound, "-2147024894, System.IO.FileNotFoundException", "List does not exist.")
		return
	}
	cl := s.changes()
	cl.mu.Lock()
	mode := cl.mode
	cl.mu.Unlock()
	op := ""
	if len(calls) == 3 {
		op = strings.ToLower(calls[2].name)
	}
	if mode == ChangeLogAbsent && (op == "currentchangetoken" || op == "getchanges") {
		restError(w, r, http.StatusNotFound, codeInvalidQuery, "Cannot find resource for the request "+calls[2].name+".")
		return
	}
	if mode == ChangeLogGarbled && (op == "currentchangetoken" || op == "getchanges") {
		writeJSON(w, r, http.StatusOK, map[string]any{"d": map[string]any{"unexpected": []int{1, 2}}})
		return
	}
	switch {
	case op == "currentchangetoken" && r.Method == http.MethodGet:
		cl.mu.Lock()
		tok := cl.currentLocked()
		cl.mu.Unlock()
		writeJSON(w, r, http.StatusOK, s.wrapObject(r, "SP.ChangeToken", map[string]any{"StringValue": tok}))
	case op == "getchanges" && r.Method == http.MethodPost:
		s.getChanges(w, r, cl)
	default:
		restError(w, r, http.StatusBadRequest, codeInvalidQuery, "The expression is not valid.")
	}
}

// changeQuery is the part of SP.ChangeQuery spemu reads.
type changeQuery struct {
	Query struct {
		Item             bool `json:"Item"`
		File             bool `json:"File"`
		Folder           bool `json:"Folder"`
		Add              bool `json:"Add"`
		Update           bool `json:"Update"`
		DeleteObject     bool `json:"DeleteObject"`
		Rename           bool `json:"Rename"`
		Move             bool `json:"Move"`
		FetchLimit       int  `json:"FetchLimit"`
		ChangeTokenStart *struct {
			StringValue string `json:"StringValue"`
		} `json:"ChangeTokenStart"`
	} `json:"query"`
}

func (q changeQuery) wants(typ int) bool {
	switch typ {
	case ChangeAdd:
		return q.Query.Add
	case ChangeUpdate:
		return q.Query.Update
	case ChangeDelete:
		return q.Query.DeleteObject
	case ChangeRename:
		return q.Query.Rename
	default:
		return q.Query.Move
	}
}

func (s *Server) getChanges(w http.ResponseWriter, r *http.Request, cl *changeLog) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var q changeQuery
	if err == nil {
		err = json.Unmarshal(body, &q)
	}
	if err != nil {
		restError(w, r, http.StatusBadRequest, codeInvalidQuery, "Invalid JSON. The request body is not a valid ChangeQuery.")
		return
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	from := cl.first - 1 // no start token: from the start of the log
	if q.Query.ChangeTokenStart != nil {
		n, code, msg := cl.parseToken(q.Query.ChangeTokenStart.StringValue)
		if code != "" {
			restError(w, r, http.StatusInternalServerError, code, msg)
			return
		}
		from = n
	}
	limit := q.Query.FetchLimit
	if limit <= 0 {
		limit = defaultFetchLimit
	}
	limit = min(limit, maxFetchLimit)
	if cl.pageLimit > 0 {
		limit = min(limit, cl.pageLimit)
	}
	out := []any{}
	if q.Query.Item || q.Query.File || q.Query.Folder {
		for _, e := range cl.entries {
			if e.n <= from || !q.wants(e.typ) {
				continue
			}
			if len(out) == limit {
				break
			}
			out = append(out, s.changeItem(r, cl, e))
		}
	}
	if verbose(r) {
		writeJSON(w, r, http.StatusOK, map[string]any{"d": map[string]any{"results": out}})
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"value": out})
}

// changeItem is one SP.ChangeItem as SharePoint Online answers it.
func (s *Server) changeItem(r *http.Request, cl *changeLog, e loggedChange) any {
	srv := ""
	if e.lib != "" {
		srv = s.libPrefix + strings.TrimSuffix(e.lib, "/")
	}
	fso := 0
	if e.isDir {
		fso = 1
	}
	tok := map[string]any{"StringValue": cl.tokenLocked(e.n, e.at)}
	m := map[string]any{
		"ChangeToken": tok, "ChangeType": e.typ, "SiteId": cl.listID, "Time": e.at.Format("2006-01-02T15:04:05Z"),
		"Editor": "", "EditorEmailHint": nil, "FileSystemObjectType": fso, "FileType": strings.TrimPrefix(path.Ext(e.lib), "."),
		"Hidden": false, "ItemId": e.itemID, "ListId": cl.listID, "ListTemplate": 700, "ListTitle": s.cfg.Library,
		"ServerRelativeUrl": srv, "Title": "", "UniqueId": strings.ToLower(e.guid), "WebId": cl.listID,
	}
	if verbose(r) {
		tok["__metadata"] = map[string]any{"type": "SP.ChangeToken"}
		id := s.baseFor(r) + s.cfg.Site + "/_api/SP.ChangeItem" + strconv.FormatInt(e.n, 10)
		m["__metadata"] = map[string]any{"id": id, "uri": id, "type": "SP.ChangeItem"}
	}
	return m
}

// wrapObject shapes one object for the answer's metadata level.
func (s *Server) wrapObject(r *http.Request, typ string, m map[string]any) any {
	if verbose(r) {
		m["__metadata"] = map[string]any{"type": typ}
		return map[string]any{"d": m}
	}
	if minimal(r) {
		m["odata.metadata"] = s.metadataURL(r, typ)
		m["odata.type"] = typ
	}
	return m
}
