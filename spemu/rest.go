package spemu

// The SharePoint REST endpoints a WebDAV client needs for large files
// (sharepoint-protocol.md §5): the form digest from /_api/contextinfo,
// digest enforcement, AddUsingPath / Files/add, and the chunked upload
// calls StartUpload / ContinueUpload / FinishUpload / CancelUpload /
// GetUploadStatus on GetFileByServerRelativePath / …Url.
//
// Rules the emulator enforces, as SharePoint does:
//   - every POST except contextinfo needs a valid X-RequestDigest unless
//     the request carries a bearer token; a missing, unknown or expired
//     digest gets 403 with error -2130575251 "security validation";
//   - one request body may not exceed MaxRESTRequest bytes (400 with
//     InvalidClientQueryException "The request message is too big");
//   - chunks are sequential: a call on a session that is busy gets 409,
//     an offset other than the confirmed one gets 400;
//   - a session unused for UploadSessionTimeout (30 min) is gone (404);
//   - the file's content changes only at FinishUpload; chunks stream to a
//     temporary file in the store, never to memory;
//   - while a session is open the file is locked: StartUpload with
//     another upload id gets 423, and WebDAV writes to it
//     (PUT, DELETE, MOVE, COPY onto it, PROPPATCH) get 423 until
//     FinishUpload, CancelUpload or the session's expiry.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxRESTRequest is SharePoint's cap on one REST/CSOM request body.
const MaxRESTRequest = 262144000

// Defaults of the REST emulation; a Server can change them with
// SetFormDigestTimeout and SetUploadSessionTimeout.
var (
	DefaultFormDigestTimeout    = 1800 * time.Second
	DefaultUploadSessionTimeout = 30 * time.Minute
)

func init() {
	registerRoute(Route{
		Name: "rest",
		Match: func(s *Server, p string) bool {
			return hasPathPrefixFold(p, s.cfg.Site+"/_api") && !strings.Contains(strings.ToLower(p), "/sp.oauth.")
		},
		Handler: serveREST,
	})
}

// restState is the per-server state of the REST emulation. Server has no
// field for it (config.go and server.go belong to the core), so it lives
// in a map keyed by the server.
type restState struct {
	mu             sync.Mutex
	digestTimeout  time.Duration
	sessionTimeout time.Duration
	digests        map[string]time.Time // value → expiry
	sessions       map[string]*uploadSession
}

type uploadSession struct {
	id      string
	path    string // library path (folded key compared)
	tmp     string // temp file holding the bytes so far
	offset  int64
	last    time.Time
	busy    bool
	expires time.Time
}

// restKey names the REST endpoints' state in Server.extState.
type restKey struct{}

func (s *Server) rest() *restState {
	return s.extState(restKey{}, func() any {
		return &restState{
			digestTimeout:  DefaultFormDigestTimeout,
			sessionTimeout: DefaultUploadSessionTimeout,
			digests:        map[string]time.Time{},
			sessions:       map[string]*uploadSession{},
		}
	}).(*restState)
}

// SetFormDigestTimeout sets FormDigestTimeoutSeconds of digests issued
// from now on.
func (s *Server) SetFormDigestTimeout(d time.Duration) {
	st := s.rest()
	st.mu.Lock()
	st.digestTimeout = d
	st.mu.Unlock()
}

// ExpireFormDigests makes every digest issued so far invalid.
func (s *Server) ExpireFormDigests() {
	st := s.rest()
	st.mu.Lock()
	st.digests = map[string]time.Time{}
	st.mu.Unlock()
}

// SetUploadSessionTimeout sets how long an upload session lives after
// its last chunk (SharePoint: 30 minutes).
func (s *Server) SetUploadSessionTimeout(d time.Duration) {
	st := s.rest()
	st.mu.Lock()
	st.sessionTimeout = d
	st.mu.Unlock()
}

// ExpireUploadSessions ends every upload session now, as SharePoint does
// after the inter-chunk timeout; their bytes are discarded.
func (s *Server) ExpireUploadSessions() {
	st := s.rest()
	st.mu.Lock()
	old := st.sessions
	st.sessions = map[string]*uploadSession{}
	st.mu.Unlock()
	for _, u := range old {
		os.Remove(u.tmp)
	}
}

// UploadSessions reports the upload sessions alive now.
func (s *Server) UploadSessions() int {
	st := s.rest()
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, u := range st.sessions {
		if time.Now().Before(u.expires) {
			n++
		}
	}
	return n
}

// --- errors and JSON --------------------------------------------------------

func verbose(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "odata=verbose")
}

// minimal reports whether the answer is in OData's minimal metadata:
// SharePoint Online's default for a bare "Accept: application/json" (and
// for odata=minimalmetadata); only odata=nometadata leaves the metadata
// out, and odata=verbose wraps everything in "d".
func minimal(r *http.Request) bool {
	a := strings.ToLower(r.Header.Get("Accept"))
	return !strings.Contains(a, "odata=verbose") && !strings.Contains(a, "nometadata")
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	ct := "application/json;odata=nometadata;streaming=true;charset=utf-8"
	switch {
	case verbose(r):
		ct = "application/json;odata=verbose;charset=utf-8"
	case minimal(r):
		ct = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(b)
}

// metadataURL is the odata.metadata of a minimal-metadata answer.
func (s *Server) metadataURL(r *http.Request, fragment string) string {
	return s.baseFor(r) + s.cfg.Site + "/_api/$metadata#" + fragment
}

// restError writes SharePoint's error JSON: {"error":{…}} for verbose,
// {"odata.error":{…}} otherwise.
func restError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	key := "odata.error"
	if verbose(r) {
		key = "error"
	}
	writeJSON(w, r, status, map[string]any{key: map[string]any{
		"code": code, "message": map[string]string{"lang": "en-US", "value": msg},
	}})
}

// ListViewThreshold is SharePoint Online's list-view threshold: a query
// over more items of a list or folder is refused (ThresholdOnAdd).
const ListViewThreshold = 5000

const (
	codeThrottledQuery = "-2147024860, Microsoft.SharePoint.SPQueryThrottledException"
	thresholdText      = "The attempted operation is prohibited because it exceeds the list view threshold."
	codeFileNotFound   = "-2147024894, System.IO.FileNotFoundException"
	codeSPException    = "-2130575338, Microsoft.SharePoint.SPException"
	codeFileExists     = "-2130575257, Microsoft.SharePoint.SPException"
	codeArgument       = "-2147024809, System.ArgumentException"
	codeSecurity       = "-2130575251, Microsoft.SharePoint.SPException"
	codeInvalidQuery   = "-1, Microsoft.SharePoint.Client.InvalidClientQueryException"
	codeTooBig         = "-2147024809, Microsoft.SharePoint.Client.InvalidClientQueryException"
	codeUploadConflict = "-2147018894, Microsoft.SharePoint.SPFileLockException"
	securityText       = "The security validation for this page is invalid and might be corrupted. Please use your web browser's Back button to try your operation again."
	tooBigText         = "The request message is too big. The server does not allow messages larger than 262144000 bytes."
)

// result wraps a scalar the way each metadata level does.
func (s *Server) result(r *http.Request, name string, v any) any {
	if verbose(r) {
		return map[string]any{"d": map[string]any{name: v}}
	}
	if minimal(r) {
		t := "Edm.Int64"
		if v == nil {
			t = "Edm.Null"
		}
		return map[string]any{"odata.metadata": s.metadataURL(r, t), "value": v}
	}
	return map[string]any{"value": v}
}

func (s *Server) spFile(r *http.Request, it Item) any {
	srvURL := s.libPrefix + strings.TrimSuffix(it.Path, "/")
	if it.Path == "/" {
		srvURL = s.libPrefix
	}
	m := map[string]any{
		"CheckInComment":       "",
		"CheckOutType":         2,
		"ContentTag":           fmt.Sprintf("{%s},%d,1", it.GUID, it.Version),
		"CustomizedPageStatus": 0,
		"ETag":                 it.ETag(),
		"Exists":               true,
		"IrmEnabled":           false,
		"Length":               strconv.FormatInt(it.Size, 10),
		"Level":                1,
		"LinkingUri":           nil,
		"LinkingUrl":           "",
		"MajorVersion":         it.Version,
		"MinorVersion":         0,
		"Name":                 it.Name,
		"ServerRelativeUrl":    srvURL,
		"TimeCreated":          it.Created.UTC().Format("2006-01-02T15:04:05Z"),
		"TimeLastModified":     it.Modified.UTC().Format("2006-01-02T15:04:05Z"),
		"Title":                nil,
		"UIVersion":            512 * it.Version,
		"UIVersionLabel":       fmt.Sprintf("%d.0", it.Version),
		"UniqueId":             strings.ToLower(it.GUID),
	}
	if verbose(r) {
		base := s.baseFor(r) + s.cfg.Site
		m["__metadata"] = map[string]any{
			"id":   base + "/_api/Web/GetFileByServerRelativePath(decodedurl='" + srvURL + "')",
			"uri":  base + "/_api/Web/GetFileByServerRelativePath(decodedurl='" + srvURL + "')",
			"type": "SP.File",
		}
		return map[string]any{"d": m}
	}
	if minimal(r) {
		id := s.baseFor(r) + s.cfg.Site + "/_api/Web/GetFileByServerRelativePath(decodedurl='" + srvURL + "')"
		m["odata.metadata"] = s.metadataURL(r, "SP.ApiData.Files12/@Element")
		m["odata.type"] = "SP.File"
		m["odata.id"] = id
		m["odata.editLink"] = "Web/GetFileByServerRelativePath(decodedurl='" + srvURL + "')"
	}
	return m
}

// --- OData path parsing -----------------------------------------------------

// odataCall is one path segment: Name or Name(args).
type odataCall struct {
	name string
	args map[string]string // named arguments; a positional one is under ""
	kind map[string]byte   // 's' string literal, 'g' guid, 'r' raw
}

// parseODataPath splits "web/GetFileByServerRelativePath(decodedurl='a/b')/StartUpload(uploadId=guid'…')"
// into calls, honouring quotes (” inside a literal is one quote).
func parseODataPath(p string) ([]odataCall, error) {
	var calls []odataCall
	i := 0
	for i < len(p) {
		for i < len(p) && p[i] == '/' {
			i++
		}
		if i >= len(p) {
			break
		}
		start := i
		for i < len(p) && p[i] != '(' && p[i] != '/' {
			i++
		}
		c := odataCall{name: p[start:i], args: map[string]string{}, kind: map[string]byte{}}
		if c.name == "" {
			return nil, errors.New("empty segment")
		}
		if i < len(p) && p[i] == '(' {
			i++
			for {
				for i < len(p) && p[i] == ' ' {
					i++
				}
				if i < len(p) && p[i] == ')' {
					i++
					break
				}
				// name=value or a bare value
				key := ""
				j := i
				for j < len(p) && p[j] != '=' && p[j] != '\'' && p[j] != ',' && p[j] != ')' {
					j++
				}
				if j < len(p) && p[j] == '=' {
					key = strings.TrimSpace(p[i:j])
					i = j + 1
				}
				var val string
				var kind byte = 'r'
				if strings.HasPrefix(strings.ToLower(p[i:]), "guid'") {
					kind = 'g'
					i += 4
				}
				if i < len(p) && p[i] == '\'' {
					if kind != 'g' {
						kind = 's'
					}
					i++
					var b strings.Builder
					for {
						if i >= len(p) {
							return nil, errors.New("unterminated string literal")
						}
						if p[i] == '\'' {
							if i+1 < len(p) && p[i+1] == '\'' {
								b.WriteByte('\'')
								i += 2
								continue
							}
							i++
							break
						}
						b.WriteByte(p[i])
						i++
					}
					val = b.String()
				} else {
					j := i
					for j < len(p) && p[j] != ',' && p[j] != ')' {
						j++
					}
					val = strings.TrimSpace(p[i:j])
					i = j
				}
				c.args[strings.ToLower(key)] = val
				c.kind[strings.ToLower(key)] = kind
				for i < len(p) && p[i] == ' ' {
					i++
				}
				if i < len(p) && p[i] == ',' {
					i++
					continue
				}
				if i < len(p) && p[i] == ')' {
					i++
					break
				}
				return nil, errors.New("malformed argument list")
			}
		}
		if i < len(p) && p[i] != '/' {
			return nil, errors.New("junk after a call")
		}
		calls = append(calls, c)
	}
	return calls, nil
}

// libPathOf maps a decoded server-relative URL to a library path.
func (s *Server) libPathOf(serverRel string) (string, bool) {
	if !hasPathPrefixFold(serverRel, s.libPrefix) {
		return "", false
	}
	return cleanLibPath(serverRel[len(s.libPrefix):]), true
}

// target resolves GetFileBy…/GetFolderBy… to a library path. Path APIs
// take the decoded URL; the legacy Url APIs treat the string as already
// percent-encoded, so it is decoded once more (which is why names with
// "%" or "#" need the Path APIs).
func (s *Server) target(c odataCall) (string, bool, error) {
	n := strings.ToLower(c.name)
	var raw string
	switch n {
	case "getfilebyserverrelativepath", "getfolderbyserverrelativepath":
		raw = c.args["decodedurl"]
	case "getfilebyserverrelativeurl", "getfolderbyserverrelativeurl":
		v, ok := c.args[""]
		if !ok {
			v = c.args["serverrelativeurl"]
		}
		d, err := url.PathUnescape(v)
		if err != nil {
			return "", false, err
		}
		raw = d
	default:
		return "", false, fmt.Errorf("unknown resource %s", c.name)
	}
	p, ok := s.libPathOf(raw)
	if !ok {
		return "", false, fmt.Errorf("%q is not in the library", raw)
	}
	return p, strings.HasPrefix(n, "getfolder"), nil
}

// --- the handler ------------------------------------------------------------

// serveREST handles <Site>/_api/… for an authenticated request.
func serveREST(s *Server, w http.ResponseWriter, r *http.Request) {
	st := s.rest()
	rest := r.URL.Path[len(s.cfg.Site)+len("/_api"):]
	rest = strings.TrimPrefix(rest, "/")
	bearer := strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ")

	if r.ContentLength > MaxRESTRequest {
		restError(w, r, http.StatusBadRequest, codeTooBig, tooBigText)
		return
	}
	if strings.EqualFold(rest, "contextinfo") {
		if r.Method != http.MethodPost {
			restError(w, r, http.StatusMethodNotAllowed, codeInvalidQuery, "The HTTP method 'GET' cannot be used to access the resource 'GetContextWebInformation'. The operation type of the resource is specified as 'Default'. Please use correct HTTP method to invoke the resource.")
			return
		}
		s.contextInfo(w, r, st)
		return
	}
	if r.Method == http.MethodPost && !bearer {
		if !st.validDigest(r.Header.Get("X-RequestDigest")) {
			restError(w, r, http.StatusForbidden, codeSecurity, securityText)
			return
		}
	}
	calls, err := parseODataPath(rest)
	if err != nil || len(calls) < 2 || !strings.EqualFold(calls[0].name, "web") {
		restError(w, r, http.StatusBadRequest, codeInvalidQuery, "The expression \""+rest+"\" is not valid.")
		return
	}
	if len(calls) == 2 && strings.EqualFold(calls[1].name, "lists") && r.Method == http.MethodGet {
		s.serveLists(w, r)
		return
	}
	if isListCall(calls[1]) {
		s.serveList(w, r, calls)
		return
	}
	p, isFolder, err := s.target(calls[1])
	if err != nil {
		restError(w, r, http.StatusBadRequest, codeArgument, "Value does not fall within the expected range.")
		return
	}
	ops := calls[2:]
	switch {
	case isFolder && len(ops) == 2 && strings.EqualFold(ops[0].name, "Files") &&
		(strings.EqualFold(ops[1].name, "AddUsingPath") || strings.EqualFold(ops[1].name, "add")):
		if r.Method != http.MethodPost {
			restError(w, r, http.StatusMethodNotAllowed, codeInvalidQuery, "Use POST.")
			return
		}
		s.addFile(w, r, p, ops[1])
	case !isFolder && len(ops) == 0 && r.Method == http.MethodGet:
		it, err := s.st.Stat(p)
		if err != nil || it.IsDir {
			restError(w, r, http.StatusNotFound, codeFileNotFound, "File Not Found.")
			return
		}
		writeJSON(w, r, http.StatusOK, s.spFile(r, it))
	case !isFolder && len(ops) == 1 && r.Method == http.MethodPost:
		s.uploadCall(w, r, st, p, ops[0])
	default:
		restError(w, r, http.StatusBadRequest, codeInvalidQuery, "The expression \""+rest+"\" is not valid.")
	}
}

func (s *Server) contextInfo(w http.ResponseWriter, r *http.Request, st *restState) {
	b := make([]byte, 64)
	rand.Read(b)
	now := time.Now().UTC()
	value := "0x" + strings.ToUpper(hex.EncodeToString(b)) + "," + now.Format("02 Jan 2006 15:04:05 -0000")
	st.mu.Lock()
	timeout := st.digestTimeout
	st.digests[value] = now.Add(timeout)
	for v, exp := range st.digests {
		if now.After(exp) {
			delete(st.digests, v)
		}
	}
	st.mu.Unlock()
	site := s.baseFor(r) + s.cfg.Site
	info := map[string]any{
		"FormDigestTimeoutSeconds": int64(timeout / time.Second),
		"FormDigestValue":          value,
		"LibraryVersion":           "16.0.26001.12000",
		"SiteFullUrl":              site,
		"WebFullUrl":               site,
	}
	if verbose(r) {
		info["__metadata"] = map[string]any{"type": "SP.ContextWebInformation"}
		info["SupportedSchemaVersions"] = map[string]any{"__metadata": map[string]any{"type": "Collection(Edm.String)"}, "results": []string{"14.0.0.0", "15.0.0.0"}}
		writeJSON(w, r, http.StatusOK, map[string]any{"d": map[string]any{"GetContextWebInformation": info}})
		return
	}
	info["SupportedSchemaVersions"] = []string{"14.0.0.0", "15.0.0.0"}
	if minimal(r) {
		info["odata.metadata"] = site + "/_api/$metadata#SP.ContextWebInformation"
	}
	writeJSON(w, r, http.StatusOK, info)
}

func (st *restState) validDigest(v string) bool {
	if v == "" {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	exp, ok := st.digests[v]
	return ok && time.Now().Before(exp)
}

// cappedBody reads a request body, failing past MaxRESTRequest bytes
// (for bodies sent without a Content-Length).
type cappedBody struct {
	r io.Reader
	n int64
}

var errBodyTooBig = errors.New("request body over the REST cap")

func (b *cappedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > MaxRESTRequest {
		return n, errBodyTooBig
	}
	return n, err
}

// addFile is Files/AddUsingPath(decodedurl=…,overwrite=…) and the legacy
// Files/add(url=…,overwrite=…): the body is the file's content.
func (s *Server) addFile(w http.ResponseWriter, r *http.Request, dir string, c odataCall) {
	if s.cfg.ThresholdOnAdd {
		if items, err := s.st.List(dir); err == nil && len(items) > ListViewThreshold {
			restError(w, r, http.StatusInternalServerError, codeThrottledQuery, thresholdText)
			return
		}
	}
	name, ok := c.args["decodedurl"]
	if strings.EqualFold(c.name, "add") {
		name, ok = c.args["url"]
		if ok {
			d, err := url.PathUnescape(name)
			if err != nil {
				restError(w, r, http.StatusBadRequest, codeArgument, "Value does not fall within the expected range.")
				return
			}
			name = d
		}
	}
	if !ok || name == "" || strings.Contains(name, "/") {
		restError(w, r, http.StatusBadRequest, codeArgument, "The file name is missing or not valid.")
		return
	}
	overwrite := strings.EqualFold(c.args["overwrite"], "true")
	d, err := s.st.Stat(dir)
	if err != nil || !d.IsDir {
		restError(w, r, http.StatusNotFound, codeFileNotFound, "File Not Found.")
		return
	}
	p := cleanLibPath(dir + "/" + name)
	if err := s.checkNewPath(p, false); err != nil {
		var ne *NameError
		if errors.As(err, &ne) {
			w.Header().Set("X-MSDAVEXT_Error", ne.Header())
		}
		restError(w, r, http.StatusBadRequest, codeArgument, err.Error())
		return
	}
	body := &cappedBody{r: r.Body}
	it, _, err := s.st.WriteStream(p, body, -1, func(cur Item, exists bool) error {
		if exists && !overwrite {
			return errExists
		}
		return nil
	})
	switch {
	case errors.Is(err, errBodyTooBig):
		restError(w, r, http.StatusBadRequest, codeTooBig, tooBigText)
	case errors.Is(err, errExists):
		restError(w, r, http.StatusBadRequest, codeFileExists, "A file with the name '"+s.libPrefix+p+"' already exists. It was last modified by "+s.cfg.User+".")
	case errors.Is(err, errIsDir):
		restError(w, r, http.StatusBadRequest, codeFileExists, "A folder with the name '"+s.libPrefix+p+"' already exists.")
	case err != nil:
		restError(w, r, http.StatusInternalServerError, codeSPException, "The file could not be stored.")
	default:
		writeJSON(w, r, http.StatusOK, s.spFile(r, it))
	}
}

// uploadCall runs StartUpload / ContinueUpload / FinishUpload /
// CancelUpload / GetUploadStatus on the file p.
func (s *Server) uploadCall(w http.ResponseWriter, r *http.Request, st *restState, p string, c odataCall) {
	op := strings.ToLower(c.name)
	id := strings.ToLower(c.args["uploadid"])
	if c.kind["uploadid"] != 'g' || len(id) != 36 {
		restError(w, r, http.StatusBadRequest, codeInvalidQuery, "The uploadId parameter must be a GUID literal.")
		return
	}
	var offset int64
	if op == "continueupload" || op == "finishupload" {
		n, err := strconv.ParseInt(c.args["fileoffset"], 10, 64)
		if err != nil || n < 0 {
			restError(w, r, http.StatusBadRequest, codeInvalidQuery, "The fileOffset parameter is not a valid Int64.")
			return
		}
		offset = n
	}
	if s.cfg.NoChunkedUpload && (op == "startupload" || op == "continueupload" || op == "finishupload" || op == "cancelupload" || op == "getuploadstatus") {
		// SharePoint 2013 has no such functions; OData names the segment
		// it could not resolve.
		restError(w, r, http.StatusNotFound, codeInvalidQuery, "Cannot find resource for the request "+c.name+".")
		return
	}
	switch op {
	case "startupload":
		it, err := s.st.Stat(p)
		if err != nil || it.IsDir {
			restError(w, r, http.StatusNotFound, codeFileNotFound, "File Not Found.")
			return
		}
		f, err := s.st.TempFile()
		if err != nil {
			restError(w, r, http.StatusInternalServerError, codeSPException, "No space for the upload.")
			return
		}
		n, err := io.Copy(f, &cappedBody{r: r.Body})
		f.Close()
		if err != nil {
			os.Remove(f.Name())
			if errors.Is(err, errBodyTooBig) {
				restError(w, r, http.StatusBadRequest, codeTooBig, tooBigText)
			}
			return
		}
		now := time.Now()
		st.mu.Lock()
		for oid, o := range st.sessions {
			if oid != id && o.path == foldKey(p) && now.Before(o.expires) {
				// Another session holds the file's upload lock [inf: the
				// exact status is not documented; SPFileLockException].
				st.mu.Unlock()
				os.Remove(f.Name())
				restError(w, r, http.StatusLocked, codeUploadConflict, "The file "+s.libPrefix+p+" is locked for an upload session that is still open; cancel it or wait for it to expire.")
				return
			}
		}
		if old := st.sessions[id]; old != nil {
			if old.busy {
				st.mu.Unlock()
				os.Remove(f.Name())
				restError(w, r, http.StatusConflict, codeUploadConflict, "The upload session is in use by another request; chunks must be sent one after another.")
				return
			}
			// StartUpload is idempotent for the same id: start over.
			os.Remove(old.tmp)
		}
		st.sessions[id] = &uploadSession{id: id, path: foldKey(p), tmp: f.Name(), offset: n, last: now, expires: now.Add(st.sessionTimeout)}
		st.mu.Unlock()
		writeJSON(w, r, http.StatusOK, s.result(r, "StartUpload", strconv.FormatInt(n, 10)))
	case "continueupload", "finishupload":
		u, code, msg := st.take(id, p)
		if u == nil {
			restError(w, r, code, codeSPException, msg)
			return
		}
		if offset != u.offset {
			st.put(u)
			restError(w, r, http.StatusBadRequest, codeArgument, fmt.Sprintf("The file offset %d does not match the expected offset %d of upload session %s.", offset, u.offset, id))
			return
		}
		f, err := os.OpenFile(u.tmp, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			st.drop(u)
			restError(w, r, http.StatusNotFound, codeSPException, "The upload session was not found.")
			return
		}
		n, err := io.Copy(f, &cappedBody{r: r.Body})
		cerr := f.Close()
		if err != nil || cerr != nil {
			// Nothing of a failed chunk counts: cut the file back.
			os.Truncate(u.tmp, u.offset)
			st.put(u)
			if errors.Is(err, errBodyTooBig) {
				restError(w, r, http.StatusBadRequest, codeTooBig, tooBigText)
			}
			return
		}
		u.offset += n
		if op == "continueupload" {
			st.put(u)
			writeJSON(w, r, http.StatusOK, s.result(r, "ContinueUpload", strconv.FormatInt(u.offset, 10)))
			return
		}
		it, _, err := s.st.CommitFile(p, u.tmp, nil)
		if err != nil {
			st.drop(u)
			restError(w, r, http.StatusInternalServerError, codeSPException, "The file could not be committed.")
			return
		}
		st.mu.Lock()
		delete(st.sessions, id)
		st.mu.Unlock()
		s.afterUpload(it)
		if cur, err := s.st.Stat(p); err == nil {
			it = cur
		}
		writeJSON(w, r, http.StatusOK, s.spFile(r, it))
	case "cancelupload":
		st.mu.Lock()
		u := st.sessions[id]
		if u != nil && !u.busy {
			delete(st.sessions, id)
		}
		st.mu.Unlock()
		if u == nil {
			restError(w, r, http.StatusNotFound, codeSPException, "The upload session was not found.")
			return
		}
		if u.busy {
			restError(w, r, http.StatusConflict, codeUploadConflict, "The upload session is in use by another request.")
			return
		}
		os.Remove(u.tmp)
		writeJSON(w, r, http.StatusOK, s.result(r, "CancelUpload", nil))
	case "getuploadstatus":
		st.mu.Lock()
		u := st.sessions[id]
		var ok bool
		var status map[string]any
		if u != nil && time.Now().Before(u.expires) && u.path == foldKey(p) {
			ok = true
			status = map[string]any{
				"ExpectedContentRange": strconv.FormatInt(u.offset, 10) + "-",
				"ExpirationDateTime":   u.expires.UTC().Format("2006-01-02T15:04:05Z"),
				"UploadId":             id,
			}
		}
		st.mu.Unlock()
		if !ok {
			restError(w, r, http.StatusNotFound, codeSPException, "The upload session was not found.")
			return
		}
		if verbose(r) {
			status["__metadata"] = map[string]any{"type": "SP.Utilities.UploadStatus"}
			writeJSON(w, r, http.StatusOK, map[string]any{"d": map[string]any{"GetUploadStatus": status}})
			return
		}
		writeJSON(w, r, http.StatusOK, status)
	default:
		restError(w, r, http.StatusBadRequest, codeInvalidQuery, "The expression \""+c.name+"\" is not valid.")
	}
}

// uploadSessionOn reports whether a live upload session is open on
// libPath (or, with members, on a file below it): SharePoint locks the
// file for the session, so WebDAV writes to it (PUT, DELETE, MOVE, COPY
// onto it, PROPPATCH) get 423 until FinishUpload, CancelUpload or the
// session's expiry. Called under the store lock; it takes only st.mu,
// which is never held while the store lock is taken.
func (s *Server) uploadSessionOn(libPath string, members bool) bool {
	st := s.rest()
	key := foldKey(libPath)
	now := time.Now()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, u := range st.sessions {
		if !now.Before(u.expires) {
			continue
		}
		if u.path == key || (members && (key == "/" || strings.HasPrefix(u.path, key+"/"))) {
			return true
		}
	}
	return false
}

// take marks the session busy for one chunk. It returns nil, a status and
// a message when the session is unknown, expired, for another file or busy.
func (st *restState) take(id, p string) (*uploadSession, int, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	u := st.sessions[id]
	switch {
	case u == nil:
		return nil, http.StatusNotFound, "The upload session was not found."
	case time.Now().After(u.expires):
		delete(st.sessions, id)
		os.Remove(u.tmp)
		return nil, http.StatusNotFound, "The upload session has expired."
	case u.path != foldKey(p):
		return nil, http.StatusNotFound, "The upload session belongs to another file."
	case u.busy:
		return nil, http.StatusConflict, "The upload session is in use by another request; chunks must be sent one after another."
	}
	u.busy = true
	return u, 0, ""
}

// put releases a session after a chunk and restarts its timeout.
func (st *restState) put(u *uploadSession) {
	st.mu.Lock()
	defer st.mu.Unlock()
	u.busy = false
	u.last = time.Now()
	u.expires = u.last.Add(st.sessionTimeout)
	if st.sessions[u.id] != u {
		// Expired or cancelled meanwhile.
		os.Remove(u.tmp)
	}
}

func (st *restState) drop(u *uploadSession) {
	st.mu.Lock()
	if st.sessions[u.id] == u {
		delete(st.sessions, u.id)
	}
	st.mu.Unlock()
	os.Remove(u.tmp)
}
