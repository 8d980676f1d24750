package liburl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Kind says what a normalised URL points at.
type Kind int

const (
	// Library: a document library, or a folder, or a non-SharePoint
	// WebDAV URL left as given.
	Library Kind = iota
	// Site: a SharePoint site; its document libraries are listed from it.
	Site
)

// Result is a normalised URL.
type Result struct {
	URL  string // without a trailing slash, query or fragment
	Kind Kind
	// Changed reports whether URL differs from what was given (beyond a
	// trailing slash): callers log it.
	Changed bool
}

// ErrNotLibrary is wrapped by the errors for URLs that are no library.
var ErrNotLibrary = errors.New("not a document library")

// Normalize returns the library (or site) URL raw points into.
func Normalize(raw string) (Result, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Result{}, fmt.Errorf("%q is not an https://host/… URL", raw)
	}
	if u.User != nil {
		return Result{}, errors.New("the URL carries credentials; give them in a file instead (argv is visible to every user)")
	}
	segs, err := segments(u.EscapedPath())
	if err != nil {
		return Result{}, fmt.Errorf("%s: %v", u.Redacted(), err)
	}
	bad := func(format string, a ...any) (Result, error) {
		return Result{}, fmt.Errorf("%s: %w: "+format, append([]any{redacted(u), ErrNotLibrary}, a...)...)
	}
	origin := u.Scheme + "://" + u.Host
	out := func(kind Kind, s []string) (Result, error) {
		r := Result{URL: origin + join(s), Kind: kind}
		r.Changed = r.URL != strings.TrimRight(origin+u.EscapedPath(), "/") || u.RawQuery != "" || u.Fragment != ""
		return r, nil
	}

	// Sharing-style links: /:f:/r/PATH, /:x:/r/PATH …
	if len(segs) >= 2 && len(segs[0]) == 3 && segs[0][0] == ':' && segs[0][2] == ':' {
		switch segs[1] {
		case "r":
			lib, ok := libraryOf(segs[2:])
			if !ok {
				return bad("the sharing link names no library (%s)", join(segs[2:]))
			}
			return out(Library, lib)
		default:
			return bad("a sharing link (/%s/%s/…) hides the library behind a token; open it in a browser, go to the library (\"Documents\" or the library's name) and copy that address", segs[0], segs[1])
		}
	}
	// The _layouts pages of a site (web): everything before is the web.
	for i, s := range segs {
		if !strings.EqualFold(s, "_layouts") {
			continue
		}
		web := segs[:i]
		page := strings.ToLower(segs[len(segs)-1])
		q := u.Query()
		id := q.Get("id")
		if id == "" {
			id = q.Get("RootFolder")
		}
		switch {
		case id != "":
			p := strings.FieldsFunc(id, func(r rune) bool { return r == '/' }) // already decoded
			if !hasPrefixFold(p, web) || len(p) == len(web) {
				return bad("its id= (%s) is not a path in the site %s", id, join(web))
			}
			return out(Library, p[:len(web)+1])
		case page == "onedrive.aspx" && len(web) == 2 && strings.EqualFold(web[0], "personal"):
			// One's own OneDrive: the personal site's Documents library.
			return out(Library, append(append([]string{}, web...), "Documents"))
		case page == "viewlsts.aspx" || page == "start.aspx":
			return out(Site, web)
		default:
			return bad("%s is a page of the site %s, not a library; copy the library's address (open it from the site's Documents or Site contents)", segs[len(segs)-1], origin+join(web))
		}
	}
	// Pages inside a site or library.
	for i, s := range segs {
		ls := strings.ToLower(s)
		switch {
		case ls == "forms" && i > 0 && i+1 < len(segs) && strings.HasSuffix(strings.ToLower(segs[i+1]), ".aspx"):
			return out(Library, segs[:i])
		case ls == "lists" && i+1 < len(segs):
			return bad("%s is a list, not a document library", strings.Join(segs[:i+2], "/"))
		case ls == "sitepages" || ls == "pages":
			return out(Site, segs[:i])
		}
	}
	if n := len(segs); n > 0 && strings.HasSuffix(strings.ToLower(segs[n-1]), ".aspx") {
		return bad("%s is a page, not a library", segs[n-1])
	}
	if isSite(segs) && isSharePoint(u.Host) {
		return out(Site, segs)
	}
	return out(Library, segs)
}

// libraryOf returns the site and library segments of a path into a
// library (the library is the segment after the site).
func libraryOf(p []string) ([]string, bool) {
	n := 0 // segments of the site
	if len(p) >= 2 {
		switch strings.ToLower(p[0]) {
		case "sites", "teams", "personal":
			n = 2
		}
	}
	if len(p) <= n {
		return nil, false
	}
	return p[:n+1], true
}

// isSite reports whether p is a site's own path: /, /sites/NAME, …
func isSite(p []string) bool {
	if len(p) == 0 {
		return true
	}
	if len(p) != 2 {
		return false
	}
	switch strings.ToLower(p[0]) {
	case "sites", "teams", "personal":
		return true
	}
	return false
}

// isSharePoint reports whether host is SharePoint Online's (any cloud).
func isSharePoint(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	for _, s := range []string{".sharepoint.com", ".sharepoint.us", ".sharepoint-mil.us", ".sharepoint.cn", ".sharepoint.de"} {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// segments splits an escaped path into decoded segments, dropping empty
// ones.
func segments(p string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("bad escape in %q", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// join builds an escaped absolute path from decoded segments.
func join(s []string) string {
	var b strings.Builder
	for _, x := range s {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(x))
	}
	return b.String()
}

func hasPrefixFold(p, prefix []string) bool {
	if len(p) < len(prefix) {
		return false
	}
	for i := range prefix {
		if !strings.EqualFold(p[i], prefix[i]) {
			return false
		}
	}
	return true
}

// redacted is u without its query (sharing links carry tokens there).
func redacted(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	return c.Redacted()
}
