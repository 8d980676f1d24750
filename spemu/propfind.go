package spemu

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Namespaces of SharePoint's PROPFIND responses and their prefixes.
const (
	nsDAV    = "DAV:"
	nsOffice = "urn:schemas-microsoft-com:office:office"
	nsRepl   = "http://schemas.microsoft.com/repl/"
	nsZ      = "urn:schemas-microsoft-com:"
)

var nsPrefix = map[string]string{nsDAV: "D", nsOffice: "Office", nsRepl: "Repl", nsZ: "Z"}

// maxXMLBody bounds PROPFIND/PROPPATCH/LOCK bodies.
const maxXMLBody = 1 << 20

// readXMLBody parses a request body as XML; nil for an empty body. It
// refuses elements whose prefix is not declared.
func readXMLBody(r *http.Request) (*etree.Document, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxXMLBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxXMLBody {
		return nil, errBadRequest
	}
	if strings.TrimSpace(string(data)) == "" {
		return nil, nil
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, err
	}
	if doc.Root() == nil {
		return nil, errBadRequest
	}
	var bad error
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		if e.Space != "" && e.Space != "xmlns" && e.NamespaceURI() == "" {
			bad = fmt.Errorf("undeclared namespace prefix %q", e.Space)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(doc.Root())
	if bad != nil {
		return nil, bad
	}
	return doc, nil
}

// davChild finds the DAV: child element local of e.
func davChild(e *etree.Element, local string) *etree.Element {
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == nsDAV {
			return c
		}
	}
	return nil
}

// canonXML serialises e as self-contained XML: every element declares
// its own default namespace, so it can be stored and re-inserted into
// any document without the declarations of its original ancestors.
func canonXML(e *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(canonElement(e))
	doc.WriteSettings.CanonicalEndTags = true
	s, _ := doc.WriteToString()
	return s
}

func canonElement(e *etree.Element) *etree.Element {
	c := etree.NewElement(e.Tag)
	c.CreateAttr("xmlns", e.NamespaceURI())
	n := 0
	for _, a := range e.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		if a.Space != "" {
			n++
			pfx := "a" + strconv.Itoa(n)
			c.CreateAttr("xmlns:"+pfx, a.NamespaceURI())
			c.CreateAttr(pfx+":"+a.Key, a.Value)
			continue
		}
		c.CreateAttr(a.Key, a.Value)
	}
	for _, t := range e.Child {
		switch t := t.(type) {
		case *etree.Element:
			c.AddChild(canonElement(t))
		case *etree.CharData:
			c.AddChild(etree.NewText(t.Data))
		}
	}
	return c
}

// parseCanon parses what canonXML wrote.
func parseCanon(s string) *etree.Element {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil {
		return nil
	}
	return doc.Root()
}

func writeXML(w http.ResponseWriter, status int, doc *etree.Document) {
	data, err := doc.WriteToBytes()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data)
}

func newMultistatus() (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	ms := doc.CreateElement("D:multistatus")
	ms.CreateAttr("xmlns:D", nsDAV)
	ms.CreateAttr("xmlns:Office", nsOffice)
	ms.CreateAttr("xmlns:Repl", nsRepl)
	ms.CreateAttr("xmlns:Z", nsZ)
	return doc, ms
}

// propName is a property's namespace and local name.
type propName struct{ ns, local string }

func (p propName) key() string { return p.ns + "\x00" + p.local }

func propNameOfKey(k string) propName {
	ns, local, _ := strings.Cut(k, "\x00")
	return propName{ns, local}
}

// newPropElement creates an empty element for p, prefixed when the
// namespace is one of the response's, else declaring its own.
func newPropElement(p propName) *etree.Element {
	if pfx, ok := nsPrefix[p.ns]; ok {
		return etree.NewElement(pfx + ":" + p.local)
	}
	e := etree.NewElement(p.local)
	e.CreateAttr("xmlns", p.ns)
	return e
}

// liveProps are the properties spemu computes, in SharePoint's order.
var liveFileProps = []propName{
	{nsDAV, "displayname"}, {nsDAV, "lockdiscovery"}, {nsDAV, "supportedlock"},
	{nsDAV, "isFolder"}, {nsDAV, "iscollection"}, {nsDAV, "ishidden"},
	{nsDAV, "getcontenttype"}, {nsDAV, "getcontentlength"}, {nsDAV, "resourcetype"},
	{nsDAV, "getlastmodified"}, {nsDAV, "creationdate"},
	{nsRepl, "repl-uid"}, {nsRepl, "resourcetag"}, {nsDAV, "getetag"},
	{nsZ, "Win32FileAttributes"},
}

// bareFileProps are what SharePoint Online puts in a file's entry of an
// allprop listing: no resourcetype, isFolder, ishidden or getcontenttype
// (a client must take a missing resourcetype for a file). Asked for by
// name, they are answered.
var bareFileProps = func() []propName {
	var out []propName
	for _, p := range liveFileProps {
		if p.ns == nsDAV && (p.local == "resourcetype" || p.local == "isFolder" || p.local == "ishidden" || p.local == "getcontenttype") {
			continue
		}
		out = append(out, p)
	}
	return out
}()

var liveDirProps = append(append([]propName{}, liveFileProps[:9]...),
	append([]propName{{nsRepl, "authoritative-directory"}}, liveFileProps[9:]...)...)

// protectedProps cannot be set with PROPPATCH.
var protectedProps = map[propName]bool{}

func init() {
	for _, p := range liveDirProps {
		if p != (propName{nsZ, "Win32FileAttributes"}) {
			protectedProps[p] = true
		}
	}
	for _, l := range []string{"isreadonly", "isroot", "parentname", "name", "href", "contentclass", "lastaccessed", "isstructureddocument", "defaultdocument"} {
		protectedProps[propName{nsDAV, l}] = true
	}
}

// liveProp fills e (created by newPropElement) with the value of a live
// property of it; false when p is not one of them.
func (s *Server) liveProp(e *etree.Element, p propName, it Item, r *http.Request) bool {
	if p.ns == nsDAV {
		switch p.local {
		case "displayname":
			if it.Path == "/" {
				e.SetText(s.cfg.Library)
			} else {
				e.SetText(it.Name)
			}
		case "lockdiscovery":
			var lk *lockInfo
			if it.meta != nil {
				lk = it.meta.Lock
			}
			if lk.live() {
				tmp := etree.NewElement("tmp")
				s.lockDiscovery(tmp, r, it.Path, lk)
				for _, c := range tmp.ChildElements()[0].Child {
					e.AddChild(c)
				}
			}
		case "supportedlock":
			le := e.CreateElement("D:lockentry")
			le.CreateElement("D:lockscope").CreateElement("D:exclusive")
			le.CreateElement("D:locktype").CreateElement("D:write")
		case "isFolder":
			e.SetText(map[bool]string{true: "t", false: "f"}[it.IsDir])
		case "iscollection":
			e.SetText(map[bool]string{true: "1", false: "0"}[it.IsDir])
		case "ishidden":
			e.SetText(map[bool]string{true: "1", false: "0"}[strings.HasPrefix(it.Name, "_")])
		case "getcontenttype":
			if it.IsDir {
				e.SetText("application/octet-stream")
			} else {
				e.SetText(contentType(it.Name))
			}
		case "getcontentlength":
			e.SetText(strconv.FormatInt(it.Size, 10))
		case "resourcetype":
			if it.IsDir {
				e.CreateElement("D:collection")
			}
		case "getlastmodified":
			e.SetText(it.Modified.UTC().Format(http.TimeFormat))
		case "creationdate":
			e.SetText(it.Created.UTC().Format("2006-01-02T15:04:05Z"))
		case "getetag":
			e.SetText(it.ETag())
		case "quota-used-bytes", "quota-available-bytes":
			used, ok := s.quotaUsed(it)
			if !ok {
				return false
			}
			if p.local == "quota-used-bytes" {
				e.SetText(strconv.FormatInt(used, 10))
			} else {
				e.SetText(strconv.FormatInt(max(s.cfg.QuotaBytes-used, 0), 10))
			}
		default:
			return false
		}
		return true
	}
	if p.ns == nsRepl {
		switch p.local {
		case "repl-uid":
			e.SetText("rid:{" + it.GUID + "}")
		case "resourcetag":
			e.SetText(fmt.Sprintf("rt:%s@%011d", it.GUID, it.Version))
		case "authoritative-directory":
			if !it.IsDir {
				return false
			}
			e.SetText("t")
		default:
			return false
		}
		return true
	}
	if p == (propName{nsZ, "Win32FileAttributes"}) {
		if v, ok := it.props[p.key()]; ok {
			if el := parseCanon(v); el != nil {
				e.SetText(el.Text())
				return true
			}
		}
		attr := 0x20 // archive
		if it.IsDir {
			attr = 0x10
		}
		if strings.HasPrefix(it.Name, "_") {
			attr |= 0x02
		}
		e.SetText(fmt.Sprintf("%08X", attr))
		return true
	}
	return false
}

// quotaUsed is the bytes the library's files take, reported on the root
// when Config.QuotaBytes is set; false when there is no quota to report.
func (s *Server) quotaUsed(it Item) (int64, bool) {
	if s.cfg.QuotaBytes <= 0 || it.Path != "/" {
		return 0, false
	}
	all, err := s.walk(it, true)
	if err != nil {
		return 0, false
	}
	var used int64
	for _, k := range all {
		if !k.IsDir {
			used += k.Size
		}
	}
	return used, true
}

// deadProp fills e from the stored property p; false when not stored.
func deadProp(p propName, it Item, nameOnly bool) (*etree.Element, bool) {
	v, ok := it.props[p.key()]
	if !ok {
		return nil, false
	}
	stored := parseCanon(v)
	if stored == nil {
		return nil, false
	}
	if nameOnly {
		return newPropElement(p), true
	}
	if _, known := nsPrefix[p.ns]; known && len(stored.ChildElements()) == 0 {
		e := newPropElement(p)
		e.SetText(stored.Text())
		return e, true
	}
	return stored, true
}

func (s *Server) davPropfind(w http.ResponseWriter, r *http.Request, libPath string) {
	depth := r.Header.Get("Depth")
	noroot := false
	switch strings.ToLower(strings.ReplaceAll(depth, " ", "")) {
	case "0":
	case "1":
	case "1,noroot":
		depth, noroot = "1", true
	case "", "infinity":
		if !s.cfg.AllowInfiniteDepth {
			doc := etree.NewDocument()
			doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
			e := doc.CreateElement("D:error")
			e.CreateAttr("xmlns:D", nsDAV)
			e.CreateElement("D:propfind-finite-depth")
			writeXML(w, http.StatusForbidden, doc)
			return
		}
		depth = "infinity"
	default:
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	doc, err := readXMLBody(r)
	if err != nil {
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	mode := "allprop"
	var want []propName
	if doc != nil {
		root := doc.Root()
		if root.Tag != "propfind" || root.NamespaceURI() != nsDAV {
			s.writeStatus(w, http.StatusBadRequest)
			return
		}
		switch {
		case davChild(root, "propname") != nil:
			mode = "propname"
		case davChild(root, "prop") != nil:
			mode = "prop"
			for _, c := range davChild(root, "prop").ChildElements() {
				want = append(want, propName{c.NamespaceURI(), c.Tag})
			}
		case davChild(root, "allprop") != nil:
		default:
			s.writeStatus(w, http.StatusBadRequest)
			return
		}
	}
	it, err := s.st.Stat(libPath)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var items []Item
	if !noroot {
		items = append(items, it)
	}
	if depth != "0" {
		if !it.IsDir {
			// SharePoint: Depth 1 on a file is 404 (only Depth 0 works).
			s.writeStatus(w, http.StatusNotFound)
			return
		}
		kids, err := s.walk(it, depth == "infinity")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.cfg.MaxFolderItems > 0 && len(kids) > s.cfg.MaxFolderItems {
			s.writeStatus(w, http.StatusServiceUnavailable)
			return
		}
		items = append(items, kids...)
	}
	out, ms := newMultistatus()
	for _, it := range items {
		resp := ms.CreateElement("D:response")
		resp.CreateElement("D:href").SetText(s.hrefFor(r, it))
		ok := etree.NewElement("D:prop")
		var missing []propName
		switch mode {
		case "allprop", "propname":
			live := liveFileProps
			if it.IsDir {
				live = liveDirProps
			} else if mode == "allprop" && !s.cfg.FullFileEntries {
				live = bareFileProps
			}
			for _, p := range live {
				e := newPropElement(p)
				if mode == "propname" || s.liveProp(e, p, it, r) {
					if mode == "propname" && p == (propName{nsRepl, "authoritative-directory"}) && !it.IsDir {
						continue
					}
					ok.AddChild(e)
				}
			}
			for _, k := range sortedKeys(it.props) {
				p := propNameOfKey(k)
				if p == (propName{nsZ, "Win32FileAttributes"}) {
					continue // already among the live ones
				}
				if e, found := deadProp(p, it, mode == "propname"); found {
					ok.AddChild(e)
				}
			}
		case "prop":
			for _, p := range want {
				e := newPropElement(p)
				if s.liveProp(e, p, it, r) {
					ok.AddChild(e)
				} else if d, found := deadProp(p, it, false); found {
					ok.AddChild(d)
				} else {
					missing = append(missing, p)
				}
			}
		}
		if len(ok.Child) > 0 || len(missing) == 0 {
			ps := resp.CreateElement("D:propstat")
			ps.AddChild(ok)
			ps.CreateElement("D:status").SetText("HTTP/1.1 200 OK")
		}
		if len(missing) > 0 {
			ps := resp.CreateElement("D:propstat")
			pe := ps.CreateElement("D:prop")
			for _, p := range missing {
				pe.AddChild(newPropElement(p))
			}
			ps.CreateElement("D:status").SetText("HTTP/1.1 404 Not Found")
		}
	}
	writeXML(w, http.StatusMultiStatus, out)
}

// walk lists the children of folder it (recursively with deep).
func (s *Server) walk(it Item, deep bool) ([]Item, error) {
	kids, err := s.st.List(it.Path)
	if err != nil {
		return nil, err
	}
	if !deep {
		return kids, nil
	}
	var out []Item
	for _, k := range kids {
		out = append(out, k)
		if k.IsDir {
			sub, err := s.walk(k, true)
			if err != nil && !errors.Is(err, errNotFound) {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// davProppatch stores dead properties (and the Win32* times and
// attributes Windows sends) atomically: all or none. getlastmodified is
// never changed by it.
func (s *Server) davProppatch(w http.ResponseWriter, r *http.Request, libPath string) {
	doc, err := readXMLBody(r)
	if err != nil || doc == nil {
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	root := doc.Root()
	if root.Tag != "propertyupdate" || root.NamespaceURI() != nsDAV {
		s.writeStatus(w, http.StatusBadRequest)
		return
	}
	type op struct {
		p      propName
		remove bool
		value  string
	}
	var ops []op
	for _, c := range root.ChildElements() {
		if c.NamespaceURI() != nsDAV || (c.Tag != "set" && c.Tag != "remove") {
			continue
		}
		prop := davChild(c, "prop")
		if prop == nil {
			continue
		}
		for _, pe := range prop.ChildElements() {
			ops = append(ops, op{p: propName{pe.NamespaceURI(), pe.Tag}, remove: c.Tag == "remove", value: canonXML(pe)})
		}
	}
	var it Item
	forbidden := false
	err = s.st.withLock(func() error {
		var err error
		if it, err = s.st.statLocked(libPath); err != nil {
			return err
		}
		if err := s.checkConditions(r, libPath, it, true); err != nil {
			return err
		}
		for _, o := range ops {
			if protectedProps[o.p] {
				forbidden = true
			}
		}
		if forbidden {
			return nil
		}
		m := it.meta
		// A new map, never the old one changed: Items read before hold
		// the old map and read it without the store lock.
		props := make(map[string]string, len(m.Props)+len(ops))
		for k, v := range m.Props {
			props[k] = v
		}
		for _, o := range ops {
			if o.remove {
				delete(props, o.p.key())
			} else {
				props[o.p.key()] = o.value
			}
		}
		m.Props = props
		if s.cfg.ProppatchBumpsETag && !it.IsDir && len(ops) > 0 {
			m.Version++
		}
		s.st.dirty = true
		if len(ops) > 0 {
			s.st.logChange(ChangeUpdate, it.Path, it.GUID, it.IsDir)
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, ms := newMultistatus()
	resp := ms.CreateElement("D:response")
	resp.CreateElement("D:href").SetText(s.hrefFor(r, it))
	for _, o := range ops {
		ps := resp.CreateElement("D:propstat")
		ps.CreateElement("D:prop").AddChild(newPropElement(o.p))
		status := "HTTP/1.1 200 OK"
		if forbidden {
			status = "HTTP/1.1 424 Failed Dependency"
			if protectedProps[o.p] {
				status = "HTTP/1.1 403 Forbidden"
			}
		}
		ps.CreateElement("D:status").SetText(status)
	}
	writeXML(w, http.StatusMultiStatus, out)
}
