package remote

import (
	"path"
	"strings"
)

// Clean returns the canonical form of a library-relative path: leading
// "/", no trailing "/", no "." or ".." elements, "/" for the root.
func Clean(p string) string {
	return path.Clean("/" + strings.TrimLeft(p, "/"))
}

// Join joins a folder path and a name.
func Join(dir, name string) string { return Clean(dir + "/" + name) }

// Base returns the last element of p, "" for the root.
func Base(p string) string {
	p = Clean(p)
	if p == "/" {
		return ""
	}
	return path.Base(p)
}

// Dir returns the folder that holds p ("/" for the root and its children).
func Dir(p string) string { return path.Dir(Clean(p)) }
