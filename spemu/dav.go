package spemu

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// serveDAV answers a WebDAV request for the library path libPath.
func (s *Server) serveDAV(w http.ResponseWriter, r *http.Request, libPath string) {
	for _, seg := range strings.Split(libPath, "/") {
		if isPrivateName(seg) {
			s.writeError(w, r, &NameError{Code: codeInvalidName, Name: seg, Text: invalidNameText})
			return
		}
	}
	if err := s.checkPathLength(libPath); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.serveHostile(w, r, libPath) {
		return
	}
	switch r.Method {
	case http.MethodOptions:
		s.davOptions(w)
	case "PROPFIND":
		s.davPropfind(w, r, libPath)
	case "PROPPATCH":
		s.davProppatch(w, r, libPath)
	case http.MethodGet, http.MethodHead:
		s.davGet(w, r, libPath)
	case http.MethodPut:
		s.davPut(w, r, libPath)
	case "MKCOL":
		s.davMkcol(w, r, libPath)
	case http.MethodDelete:
		s.davDelete(w, r, libPath)
	case "MOVE", "COPY":
		s.davMoveCopy(w, r, libPath)
	case "LOCK":
		s.davLock(w, r, libPath)
	case "UNLOCK":
		s.davUnlock(w, r, libPath)
	default:
		w.Header().Set("Allow", davAllow)
		s.writeStatus(w, http.StatusMethodNotAllowed)
	}
}

const davAllow = "GET, POST, OPTIONS, HEAD, MKCOL, PUT, PROPFIND, PROPPATCH, DELETE, MOVE, COPY, GETLIB, LOCK, UNLOCK"

// davOptions sends SharePoint's OPTIONS headers (MS-WDVME 4.1.2; FrontPage
// RPC is gone from SPO, so MS-Author-Via is plain DAV).
func (s *Server) davOptions(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Allow", davAllow)
	h.Set("DAV", "1,2")
	h.Set("MS-Author-Via", "DAV")
	h.Set("DocumentManagementServer", "Properties Schema;Source Control;Version History;")
	h.Set("Public-Extension", "http://schemas.microsoft.com/repl-2")
	h["X-MSDAVEXT"] = []string{"1"}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// writeStatus sends a short plain-text body "404 NOT FOUND".
func (s *Server) writeStatus(w http.ResponseWriter, code int) {
	body := fmt.Sprintf("%d %s", code, strings.ToUpper(http.StatusText(code)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write([]byte(body))
}

// writeError maps a store error to the response SharePoint would send.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ne *NameError
	code := http.StatusInternalServerError
	switch {
	case errors.As(err, &ne):
		w.Header()["X-MSDAVEXT_Error"] = []string{ne.Header()}
		code = s.cfg.NameErrorStatus
	case errors.Is(err, errNotFound):
		code = http.StatusNotFound
	case errors.Is(err, errExists), errors.Is(err, errIsDir):
		code = http.StatusMethodNotAllowed
	case errors.Is(err, errNoParent), errors.Is(err, errNotDir):
		code = http.StatusConflict
	case errors.Is(err, errPrecondition):
		code = http.StatusPreconditionFailed
	case errors.Is(err, errTooLarge):
		body := fmt.Sprintf("The request message is too big. The server does not allow messages larger than %d bytes.", s.cfg.PutLimit)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		w.Write([]byte(body))
		return
	case errors.Is(err, errLocked):
		w.Header()["X-MSDAVEXT_Error"] = []string{fmt.Sprintf("%d; %s", codeLocked, url.QueryEscape("The file is locked for exclusive use."))}
		code = http.StatusLocked
	case errors.Is(err, errForbiddenSelf):
		code = http.StatusForbidden
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, errBadGateway):
		code = http.StatusBadGateway
	default:
		s.logger.Warn("spemu: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.writeStatus(w, code)
}

var errBadGateway = errors.New("destination outside this site")

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (s *Server) davGet(w http.ResponseWriter, r *http.Request, libPath string) {
	f, it, err := s.st.Open(libPath)
	if errors.Is(err, errIsDir) {
		// SharePoint shows its web UI for a folder; a small page stands in.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, "<html><body><h1>%s</h1></body></html>\n", htmlEscape(it.Path))
		}
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", it.ETag())
	h.Set("CTag", fmt.Sprintf("\"{%s},%d,1\"", it.GUID, it.Version))
	h.Set("DocId", "{"+it.GUID+"}")
	h.Set("Cache-Control", "private,max-age=0")
	h.Set("Content-Type", contentType(it.Name))
	http.ServeContent(w, r, it.Name, it.Modified, f)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// checkConditions evaluates If-Match, If-None-Match, the If header and
// the locks for a write to it (exists=false: it is to be created at
// libPath). The caller holds s.st.mu.
func (s *Server) checkConditions(r *http.Request, libPath string, it Item, exists bool) error {
	if err := checkETagHeaders(r, it, exists); err != nil {
		return err
	}
	return s.checkIfAndLocks(r, libPath, false)
}

// checkETagHeaders evaluates If-Match and If-None-Match for a write.
func checkETagHeaders(r *http.Request, it Item, exists bool) error {
	if im := r.Header.Get("If-Match"); im != "" {
		if !exists || (strings.TrimSpace(im) != "*" && !etagListMatch(im, it.ETag())) {
			return errPrecondition
		}
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && exists {
		if strings.TrimSpace(inm) == "*" || etagListMatch(inm, it.ETag()) {
			return errPrecondition
		}
	}
	return nil
}

// etagListMatch compares a comma-separated If-Match list with etag. Our
// ETags contain a comma inside the quotes, so the list is split on quotes.
func etagListMatch(list, etag string) bool {
	for _, t := range splitETags(list) {
		if strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func splitETags(list string) []string {
	var out []string
	for {
		list = strings.TrimLeft(list, " \t,")
		if list == "" {
			return out
		}
		start := 0
		if strings.HasPrefix(list, "W/") {
			start = 2
		}
		if len(list) > start && list[start] == '"' {
			end := strings.IndexByte(list[start+1:], '"')
			if end < 0 {
				return append(out, list)
			}
			out = append(out, list[:start+end+2])
			list = list[start+end+2:]
			continue
		}
		end := strings.IndexByte(list, ',')
		if end < 0 {
			return append(out, strings.TrimSpace(list))
		}
		out = append(out, strings.TrimSpace(list[:end]))
		list = list[end:]
	}
}

func (s *Server) davPut(w http.ResponseWriter, r *http.Request, libPath string) {
	if libPath == "/" {
		s.writeStatus(w, http.StatusMethodNotAllowed)
		return
	}
	if err := s.checkNewPath(libPath, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	limit := s.cfg.PutLimit
	if limit >= 0 && r.ContentLength > limit {
		s.writeError(w, r, errTooLarge)
		return
	}
	check := func(cur Item, exists bool) error { return s.checkConditions(r, libPath, cur, exists) }
	// Refuse early, before the body is read, when a precondition already fails.
	if err := s.st.withLock(func() error {
		cur, err := s.st.statLocked(libPath)
		switch {
		case err == nil && cur.IsDir:
			return errIsDir
		case err == nil:
			return check(cur, true)
		case errors.Is(err, errNotFound):
			if _, perr := s.st.statLocked(path.Dir(libPath)); perr != nil {
				return errNoParent
			}
			return check(Item{}, false)
		}
		return err
	}); err != nil {
		s.writeError(w, r, err)
		return
	}
	var body io.Reader = http.NoBody
	if r.Body != nil {
		body = r.Body
	}
	it, created, err := s.st.WriteStream(libPath, body, limit, check)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The client gets the ETag of what it sent; SharePoint's property
	// promotion then makes a new version (size and ETag change).
	s.afterUpload(it)
	w.Header().Set("ETag", it.ETag())
	w.Header().Set("Content-Length", "0")
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(s.cfg.OverwriteStatus)
	}
}

func (s *Server) davMkcol(w http.ResponseWriter, r *http.Request, libPath string) {
	if r.ContentLength > 0 {
		s.writeStatus(w, http.StatusUnsupportedMediaType)
		return
	}
	if libPath == "/" {
		s.writeError(w, r, errExists)
		return
	}
	if err := s.checkNewPath(libPath, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.st.withLock(func() error {
		if err := s.checkIfAndLocks(r, libPath, false); err != nil {
			return err
		}
		_, err := s.st.mkdirLocked(libPath)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) davDelete(w http.ResponseWriter, r *http.Request, libPath string) {
	if libPath == "/" {
		s.writeStatus(w, http.StatusForbidden)
		return
	}
	err := s.st.withLock(func() error {
		it, err := s.st.statLocked(libPath)
		if err != nil {
			return err
		}
		if err := s.checkConditions(r, libPath, it, true); err != nil {
			return err
		}
		if err := s.checkIfAndLocks(r, libPath, true); err != nil {
			return err
		}
		return s.st.removeLocked(libPath)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// destination turns the Destination header into a library path.
func (s *Server) destination(r *http.Request) (string, error) {
	d := r.Header.Get("Destination")
	if d == "" {
		return "", errBadRequest
	}
	u, err := url.Parse(d)
	if err != nil {
		return "", errBadRequest
	}
	if u.Host != "" && !strings.EqualFold(u.Host, r.Host) {
		return "", errBadGateway
	}
	if !hasPathPrefixFold(u.Path, s.libPrefix) {
		return "", errBadGateway // no moves across sites or libraries
	}
	return cleanLibPath(u.Path[len(s.libPrefix):]), nil
}

func (s *Server) davMoveCopy(w http.ResponseWriter, r *http.Request, libPath string) {
	move := r.Method == "MOVE"
	dst, err := s.destination(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if libPath == "/" || dst == "/" {
		s.writeStatus(w, http.StatusForbidden)
		return
	}
	for _, seg := range strings.Split(dst, "/") {
		if isPrivateName(seg) {
			s.writeError(w, r, &NameError{Code: codeInvalidName, Name: seg, Text: invalidNameText})
			return
		}
	}
	overwrite := true
	switch strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))) {
	case "", "T":
	case "F":
		overwrite = false
	default:
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	depth := r.Header.Get("Depth")
	shallow := !move && depth == "0"
	srcItem, err := s.st.Stat(libPath)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkNewPath(dst, srcItem.IsDir); err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.st.MoveCopy(libPath, dst, move, overwrite, shallow, func(src, d Item, dstExists bool) error {
		// Conditions are about the source (the Request-URI); a COPY does
		// not modify it, so only a MOVE needs the source's lock tokens.
		if err := checkETagHeaders(r, src, true); err != nil {
			return err
		}
		submitted, err := s.evalIf(r, libPath)
		if err != nil {
			return err
		}
		if move {
			if err := s.checkLocks(libPath, true, submitted); err != nil {
				return err
			}
		}
		return s.checkLocks(dst, dstExists, submitted)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	if created {
		w.Header().Set("Location", s.baseFor(r)+escapePath(s.serverRelative(dst)))
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

// escapePath percent-encodes a decoded URL path (spaces as %20). The
// characters [ ] ( ) stay raw, as SharePoint Online leaves them in hrefs
// (Go's encoder would escape them).
func escapePath(p string) string {
	return hrefRaw.Replace((&url.URL{Path: p}).EscapedPath())
}

var hrefRaw = strings.NewReplacer("%5B", "[", "%5D", "]", "%28", "(", "%29", ")")

// hrefFor is the absolute href of an item in a multistatus answer:
// folders end with "/", as SharePoint Online writes them.
func (s *Server) hrefFor(r *http.Request, it Item) string {
	h := s.baseFor(r) + escapePath(s.serverRelative(it.Path))
	if it.IsDir && !strings.HasSuffix(h, "/") {
		h += "/"
	}
	return h
}
