package spemu

import (
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// lockInfo is the exclusive write lock of one item (SharePoint advertises
// exclusive locks only). It is kept in the item's metadata, so it survives
// a restart until it times out.
type lockInfo struct {
	Token   string    `json:"token"`   // "opaquelocktoken:<guid>"
	Depth   string    `json:"depth"`   // "0" or "infinity"
	Owner   string    `json:"owner"`   // the <owner> element, self-contained XML ("" = none)
	Timeout int       `json:"timeout"` // seconds granted
	Expires time.Time `json:"expires"`
}

// maxLockTimeout is the longest lock granted; "Infinite" gets this too.
const maxLockTimeout = 3600

func (l *lockInfo) live() bool { return l != nil && time.Now().Before(l.Expires) }

// lockAt is one lock with the library path it is on.
type lockAt struct {
	path string // canonical library path of the locked item
	lock *lockInfo
}

// locksCovering returns the live locks that apply to the (maybe not yet
// existing) item p: its own, its parent's (membership changes), and any
// ancestor's depth-infinity lock; with members also those of descendants.
// The caller holds st.mu.
func (st *store) locksCovering(p string, members bool) []lockAt {
	p = cleanLibPath(p)
	key := foldKey(p)
	var out []lockAt
	add := func(k string) {
		if m := st.meta[k]; m != nil && m.Lock != nil {
			if !m.Lock.live() {
				m.Lock = nil
				st.dirty = true
				return
			}
			out = append(out, lockAt{path: k, lock: m.Lock})
		}
	}
	add(key)
	for k, first := key, true; k != "/"; first = false {
		k = path.Dir(k)
		if m := st.meta[k]; m != nil && m.Lock != nil && (first || m.Lock.Depth == "infinity") {
			add(k)
		}
	}
	if members {
		prefix := key + "/"
		if key == "/" {
			prefix = "/"
		}
		for k := range st.meta {
			if k != key && strings.HasPrefix(k, prefix) {
				add(k)
			}
		}
	}
	return out
}

// ifList is one parenthesised list of an If header.
type ifList struct {
	resource string // tagged resource URL ("" = the request URL)
	conds    []ifCond
}

type ifCond struct {
	not   bool
	token string // state token (lock token or other URI)
	etag  string // entity tag, with quotes
}

// parseIf parses an RFC 4918 If header.
func parseIf(h string) ([]ifList, error) {
	var lists []ifList
	tag := ""
	for i := 0; i < len(h); {
		c := h[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '<':
			end := strings.IndexByte(h[i:], '>')
			if end < 0 {
				return nil, errBadRequest
			}
			tag = h[i+1 : i+end]
			i += end + 1
		case c == '(':
			l := ifList{resource: tag}
			i++
			for {
				for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
					i++
				}
				if i >= len(h) {
					return nil, errBadRequest
				}
				if h[i] == ')' {
					i++
					break
				}
				var cond ifCond
				if strings.HasPrefix(h[i:], "Not") {
					cond.not = true
					i += 3
					for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
						i++
					}
				}
				if i >= len(h) {
					return nil, errBadRequest
				}
				switch h[i] {
				case '<':
					end := strings.IndexByte(h[i:], '>')
					if end < 0 {
						return nil, errBadRequest
					}
					cond.token = h[i+1 : i+end]
					i += end + 1
				case '[':
					end := strings.IndexByte(h[i:], ']')
					if end < 0 {
						return nil, errBadRequest
					}
					cond.etag = h[i+1 : i+end]
					i += end + 1
				default:
					return nil, errBadRequest
				}
				l.conds = append(l.conds, cond)
			}
			if len(l.conds) == 0 {
				return nil, errBadRequest
			}
			lists = append(lists, l)
		default:
			return nil, errBadRequest
		}
	}
	return lists, nil
}

// checkIfAndLocks evaluates the If header against libPath (412 when
// false) and then the locks on libPath (423 unless a matching lock token
// was submitted). members also checks locks below libPath (DELETE, MOVE
// of a folder). The caller holds s.st.mu.
func (s *Server) checkIfAndLocks(r *http.Request, libPath string, members bool) error {
	submitted, err := s.evalIf(r, libPath)
	if err != nil {
		return err
	}
	return s.checkLocks(libPath, members, submitted)
}

// evalIf evaluates the If header; untagged lists apply to reqPath (the
// Request-URI). It returns every state token the header mentions (the
// lock tokens the client submits). The caller holds s.st.mu.
func (s *Server) evalIf(r *http.Request, reqPath string) ([]string, error) {
	h := r.Header.Get("If")
	if h == "" {
		return nil, nil
	}
	lists, err := parseIf(h)
	if err != nil {
		return nil, err
	}
	var submitted []string
	anyTrue := false
	for _, l := range lists {
		target := reqPath
		if l.resource != "" {
			u, err := url.Parse(l.resource)
			if err != nil || !hasPathPrefixFold(u.Path, s.libPrefix) {
				target = ""
			} else {
				target = cleanLibPath(u.Path[len(s.libPrefix):])
			}
		}
		ok := true
		for _, c := range l.conds {
			var res bool
			if c.token != "" {
				submitted = append(submitted, c.token)
				if target != "" {
					for _, la := range s.st.locksCovering(target, false) {
						if la.lock.Token == c.token {
							res = true
						}
					}
				}
			} else if target != "" {
				if it, err := s.st.statLocked(target); err == nil {
					res = it.ETag() == strings.TrimPrefix(c.etag, "W/")
				}
			}
			if res == c.not {
				ok = false
			}
		}
		if ok {
			anyTrue = true
		}
	}
	if !anyTrue {
		return nil, errPrecondition
	}
	return submitted, nil
}

// checkLocks fails with errLocked when a lock covers libPath (or, with
// members, an item below it) whose token is not in submitted.
func (s *Server) checkLocks(libPath string, members bool, submitted []string) error {
	if s.uploadSessionOn(libPath, members) {
		// SharePoint holds a short-term lock on a file while a chunked
		// upload session is open on it (sharepoint-protocol.md §4/§5).
		return errLocked
	}
	for _, la := range s.st.locksCovering(libPath, members) {
		found := false
		for _, t := range submitted {
			if t == la.lock.Token {
				found = true
			}
		}
		if !found {
			return errLocked
		}
	}
	return nil
}

func parseTimeout(h string) int {
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if strings.EqualFold(part, "Infinite") {
			return maxLockTimeout
		}
		if n, ok := strings.CutPrefix(part, "Second-"); ok {
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				return min(v, maxLockTimeout)
			}
		}
	}
	return maxLockTimeout
}

func (s *Server) davLock(w http.ResponseWriter, r *http.Request, libPath string) {
	doc, err := readXMLBody(r)
	if err != nil {
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	timeout := parseTimeout(r.Header.Get("Timeout"))
	var lk *lockInfo
	status := http.StatusOK
	if doc == nil {
		// A refresh: the If header names the lock.
		err = s.st.withLock(func() error {
			lists, err := parseIf(r.Header.Get("If"))
			if err != nil || len(lists) == 0 {
				return errBadRequest
			}
			for _, la := range s.st.locksCovering(libPath, false) {
				for _, l := range lists {
					for _, c := range l.conds {
						if c.token == la.lock.Token && !c.not {
							la.lock.Timeout = timeout
							la.lock.Expires = time.Now().Add(time.Duration(timeout) * time.Second)
							s.st.dirty = true
							lk = la.lock
						}
					}
				}
			}
			if lk == nil {
				return errPrecondition
			}
			return nil
		})
	} else {
		root := doc.Root()
		if root == nil || root.Tag != "lockinfo" || root.NamespaceURI() != "DAV:" {
			s.writeStatus(w, http.StatusBadRequest)
			return
		}
		if sc := davChild(root, "lockscope"); sc == nil || davChild(sc, "exclusive") == nil {
			// Only exclusive locks: SharePoint advertises nothing else.
			s.writeStatus(w, http.StatusPreconditionFailed)
			return
		}
		depth := "infinity"
		switch r.Header.Get("Depth") {
		case "0":
			depth = "0"
		case "", "infinity", "Infinity":
		default:
			s.writeStatus(w, http.StatusBadRequest)
			return
		}
		owner := ""
		if o := davChild(root, "owner"); o != nil {
			owner = canonXML(o)
		}
		err = s.st.withLock(func() error {
			it, err := s.st.statLocked(libPath)
			if errors.Is(err, errNotFound) {
				if nerr := s.checkNewPath(libPath, false); nerr != nil {
					return nerr
				}
			} else if err != nil {
				return err
			}
			if len(s.st.locksCovering(libPath, depth == "infinity")) > 0 {
				return errLocked
			}
			if err != nil {
				// Locking an unmapped URL creates an empty file (RFC 4918 7.3).
				if err := s.checkIfAndLocks(r, libPath, false); err != nil {
					return err
				}
				f, terr := s.st.TempFile()
				if terr != nil {
					return terr
				}
				f.Close()
				if it, _, err = s.st.commitLocked(libPath, f.Name(), nil); err != nil {
					return err
				}
				status = http.StatusCreated
			}
			lk = &lockInfo{Token: "opaquelocktoken:" + strings.ToLower(newGUID()), Depth: depth, Owner: owner,
				Timeout: timeout, Expires: time.Now().Add(time.Duration(timeout) * time.Second)}
			it.meta.Lock = lk
			s.st.dirty = true
			return nil
		})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	it, err := s.st.Stat(libPath)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc = etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	prop := doc.CreateElement("D:prop")
	prop.CreateAttr("xmlns:D", "DAV:")
	s.lockDiscovery(prop, r, it.Path, lk)
	w.Header().Set("Lock-Token", "<"+lk.Token+">")
	writeXML(w, status, doc)
}

// lockDiscovery appends <D:lockdiscovery> for lock lk on lib path p.
func (s *Server) lockDiscovery(parent *etree.Element, r *http.Request, p string, lk *lockInfo) {
	ld := parent.CreateElement("D:lockdiscovery")
	if !lk.live() {
		return
	}
	al := ld.CreateElement("D:activelock")
	al.CreateElement("D:locktype").CreateElement("D:write")
	al.CreateElement("D:lockscope").CreateElement("D:exclusive")
	al.CreateElement("D:depth").SetText(lk.Depth)
	if lk.Owner != "" {
		if o := parseCanon(lk.Owner); o != nil {
			owner := al.CreateElement("D:owner")
			for _, t := range o.Child {
				owner.AddChild(t)
			}
		}
	}
	al.CreateElement("D:timeout").SetText("Second-" + strconv.Itoa(max(1, int(time.Until(lk.Expires).Seconds()))))
	al.CreateElement("D:locktoken").CreateElement("D:href").SetText(lk.Token)
	al.CreateElement("D:lockroot").CreateElement("D:href").SetText(s.baseFor(r) + escapePath(s.serverRelative(p)))
}

func (s *Server) davUnlock(w http.ResponseWriter, r *http.Request, libPath string) {
	tok := strings.Trim(strings.TrimSpace(r.Header.Get("Lock-Token")), "<>")
	if tok == "" {
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	err := s.st.withLock(func() error {
		if _, err := s.st.statLocked(libPath); err != nil {
			return err
		}
		for _, la := range s.st.locksCovering(libPath, false) {
			if la.lock.Token == tok {
				s.st.meta[la.path].Lock = nil
				s.st.dirty = true
				return nil
			}
		}
		return errConflict
	})
	if errors.Is(err, errConflict) {
		s.writeStatus(w, http.StatusConflict) // lock-token-matches-request-uri
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var errConflict = errors.New("conflict")
