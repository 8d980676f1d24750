package davclient

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The streaming reader of multistatus documents (parseMultistatus).
//
// It walks encoding/xml's raw tokens once, keeping only the open
// elements (name, namespace declarations, the text being collected) and
// the response being read; each </response> is handed to a callback and
// forgotten. Memory is bounded by one response, not by the document.
//
// It follows the rules the etree reader applied before it, so that both
// accept and refuse the same documents: non-strict encoding/xml, every
// end tag must match its start tag (prefix and name), at most
// msMaxDepth open elements, an unclosed element at the end is an error,
// namespace prefixes resolve through the xmlns attributes of the
// element and its ancestors (the last of duplicate attributes wins), the
// root must be DAV: multistatus, a tag matches case-insensitively in its
// namespace, only the first href, status and prop child counts, and an
// element's text is its character data up to its first child element
// (comments skipped).

// msMaxDepth bounds nesting (etree's default).
const msMaxDepth = 1024

var errXMLStructure = errors.New("XML element structure is invalid")

// msProp is one property of a propstat's prop: its tag (lower case),
// namespace, text, and for resourcetype whether a DAV: collection
// element is in it.
type msProp struct {
	tag, ns, text string
	collection    bool
}

type msPropstat struct {
	status     string
	haveStatus bool
	haveProp   bool
	props      []msProp
}

// msResponse is one <response> as read.
type msResponse struct {
	href, status         string
	haveHref, haveStatus bool
	propstats            []msPropstat
}

// msRole says what an open element is to the reader.
type msRole uint8

const (
	roleOther       msRole = iota // read for structure only
	roleRoot                      // <multistatus>
	roleResponse                  // <response>
	roleHref                      // the first <href> of a response
	roleRespStatus                // the first <status> of a response
	rolePropstat                  // <propstat>
	rolePSStatus                  // the first <status> of a propstat
	roleProp                      // the first <prop> of a propstat
	roleProperty                  // a child of that <prop>
	roleResourceTyp               // a DAV: resourcetype property
)

type msFrame struct {
	name  xml.Name // as written: Space is the prefix
	ns    string   // the namespace it resolved to
	decls []xml.Attr
	role  msRole
	// text collects character data up to the first child element
	// (collecting only for the roles that need it).
	text     strings.Builder
	textDone bool
}

type msReader struct {
	stack []*msFrame
	free  []*msFrame
	resp  msResponse
	emit  func(*msResponse)
	seen  bool // the root element was read
}

// streamMultistatus reads body and calls emit for every response of
// the DAV: multistatus root, in order. The *msResponse is reused after
// emit returns. Errors wrap errNotMultistatus.
func streamMultistatus(body []byte, emit func(*msResponse)) error {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	dec.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	r := &msReader{emit: emit}
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			if len(r.stack) != 0 {
				return fmt.Errorf("%w: %v", errNotMultistatus, errXMLStructure)
			}
			if !r.seen {
				return errNotMultistatus
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errNotMultistatus, err)
		}
		if err := r.token(tok); err != nil {
			return err
		}
	}
}

func (r *msReader) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return r.start(t)
	case xml.EndElement:
		return r.end(t)
	case xml.CharData:
		if top := r.top(); top != nil && !top.textDone && collects(top.role) {
			top.text.Write(t)
		}
	case xml.Comment:
	default: // processing instruction, directive: text stops here
		if top := r.top(); top != nil {
			top.textDone = true
		}
	}
	return nil
}

func (r *msReader) top() *msFrame {
	if len(r.stack) == 0 {
		return nil
	}
	return r.stack[len(r.stack)-1]
}

func collects(role msRole) bool {
	switch role {
	case roleHref, roleRespStatus, rolePSStatus, roleProperty:
		return true
	}
	return false
}

// resolve finds the namespace of prefix (Space of a raw name) in f's
// declarations and then its ancestors'.
func (r *msReader) resolve(f *msFrame, prefix string) string {
	for i := len(r.stack); i >= 0; i-- {
		fr := f
		if i < len(r.stack) {
			fr = r.stack[i]
		}
		for j := len(fr.decls) - 1; j >= 0; j-- {
			a := fr.decls[j]
			if (prefix == "" && a.Name.Space == "" && a.Name.Local == "xmlns") ||
				(prefix != "" && a.Name.Space == "xmlns" && a.Name.Local == prefix) {
				return a.Value
			}
		}
	}
	return ""
}

func (r *msReader) start(t xml.StartElement) error {
	if len(r.stack) >= msMaxDepth {
		return fmt.Errorf("%w: element nesting too deep", errNotMultistatus)
	}
	parent := r.top()
	if parent != nil {
		parent.textDone = true
	}
	f := r.newFrame(t)
	f.ns = r.resolve(f, t.Name.Space)
	if parent == nil {
		if r.seen {
			f.role = roleOther // a second root: not read, as before
		} else {
			r.seen = true
			if t.Name.Local != "multistatus" || f.ns != nsDAV {
				return errNotMultistatus
			}
			f.role = roleRoot
		}
	} else {
		f.role = r.childRole(parent, f)
	}
	r.stack = append(r.stack, f)
	return nil
}

// childRole says what f is to the reader as a child of parent, and
// records that a first href, status or prop has been seen.
func (r *msReader) childRole(parent, f *msFrame) msRole {
	dav := f.ns == nsDAV
	is := func(tag string) bool { return dav && strings.EqualFold(f.name.Local, tag) }
	switch parent.role {
	case roleRoot:
		if is("response") {
			r.resp = msResponse{propstats: r.resp.propstats[:0]}
			return roleResponse
		}
	case roleResponse:
		switch {
		case is("href") && !r.resp.haveHref:
			r.resp.haveHref = true
			return roleHref
		case is("status") && !r.resp.haveStatus:
			r.resp.haveStatus = true
			return roleRespStatus
		case is("propstat"):
			r.resp.propstats = append(r.resp.propstats, msPropstat{})
			return rolePropstat
		}
	case rolePropstat:
		ps := &r.resp.propstats[len(r.resp.propstats)-1]
		switch {
		case is("status") && !ps.haveStatus:
			ps.haveStatus = true
			return rolePSStatus
		case is("prop") && !ps.haveProp:
			ps.haveProp = true
			return roleProp
		}
	case roleProp:
		return roleProperty
	case roleProperty:
		// A DAV: collection directly in a DAV: resourcetype (the
		// property's tag compared lower-cased, as entry does).
		if dav && strings.EqualFold(f.name.Local, "collection") &&
			parent.ns == nsDAV && strings.ToLower(parent.name.Local) == "resourcetype" {
			parent.role = roleResourceTyp
		}
	}
	return roleOther
}

func (r *msReader) end(t xml.EndElement) error {
	f := r.top()
	if f == nil || f.name.Local != t.Name.Local || f.name.Space != t.Name.Space {
		return fmt.Errorf("%w: %v", errNotMultistatus, errXMLStructure)
	}
	r.stack = r.stack[:len(r.stack)-1]
	switch f.role {
	case roleResponse:
		r.emit(&r.resp)
	case roleHref:
		r.resp.href = f.text.String()
	case roleRespStatus:
		r.resp.status = f.text.String()
	case rolePSStatus:
		r.resp.propstats[len(r.resp.propstats)-1].status = f.text.String()
	case roleProperty, roleResourceTyp:
		ps := &r.resp.propstats[len(r.resp.propstats)-1]
		ps.props = append(ps.props, msProp{tag: strings.ToLower(f.name.Local), ns: f.ns,
			text: f.text.String(), collection: f.role == roleResourceTyp})
	}
	r.free = append(r.free, f)
	return nil
}

// newFrame returns a frame for t, reusing one that was closed.
func (r *msReader) newFrame(t xml.StartElement) *msFrame {
	var f *msFrame
	if n := len(r.free); n > 0 {
		f = r.free[n-1]
		r.free = r.free[:n-1]
		f.text.Reset()
		f.textDone = false
		f.decls = f.decls[:0]
	} else {
		f = &msFrame{}
	}
	f.name = t.Name
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			f.decls = append(f.decls, a)
		}
	}
	return f
}
