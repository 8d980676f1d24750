package davclient

import (
	"fmt"
	"path"
	"strings"

	"github.com/odfb/odfb/remote"
)

// davURL returns the encoded URL of a library-relative path. Every
// segment is percent-encoded, so "#", "%", "?" and spaces survive. The
// root gets a trailing "/", other collections do not need one.
func (c *Client) davURL(p string) string {
	p = remote.Clean(p)
	u := *c.base
	esc := c.base.EscapedPath()
	if p == "/" {
		u.RawPath = ""
		u.Path = ""
		return u.Scheme + "://" + u.Host + esc + "/"
	}
	return u.Scheme + "://" + u.Host + esc + escapePath(p)
}

// escapePath percent-encodes each segment of an absolute path. Only
// RFC 3986 unreserved characters stay as they are: IIS refuses a raw "+"
// (its double-escaping filter) and some servers treat ";" as a parameter,
// so everything else is encoded, which every server decodes the same way.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == '~', ch == '/':
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// serverRelative returns the decoded server-relative path of a library
// path, as the REST ResourcePath APIs want it.
func (c *Client) serverRelative(p string) string {
	p = remote.Clean(p)
	if p == "/" {
		return c.basePath
	}
	return c.basePath + p
}

// relToRoot resolves serverPath (decoded, absolute) against the root
// path. "." and ".." are resolved first, so "/lib/../other" is outside.
// The comparison ignores case, like SharePoint.
func relToRoot(root, serverPath string) (string, bool) {
	if !strings.HasPrefix(serverPath, "/") {
		return "", false
	}
	sp := path.Clean(serverPath)
	root = strings.TrimRight(root, "/")
	if root == "" {
		return remote.Clean(sp), true
	}
	if len(sp) < len(root) || !strings.EqualFold(sp[:len(root)], root) {
		return "", false
	}
	rest := sp[len(root):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return remote.Clean(rest), true
}
