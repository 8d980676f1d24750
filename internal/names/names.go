package names

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxPathChars is SharePoint's limit on a decoded server-relative path
// (site + library + folders + name), in characters.
const MaxPathChars = 400

// ErrReserved reports a name SharePoint refuses whatever its characters
// (CON, _vti_, desktop.ini, ~$…, .lock, leading or trailing spaces).
var ErrReserved = errors.New("name reserved by SharePoint")

// MaxNameBytes is the longest local name, in bytes: Linux's NAME_MAX,
// which statfs reports and which the kernel does not enforce for FUSE
// (it passes names up to 1024 bytes).
const MaxNameBytes = 255

// ErrTooLong reports a path over MaxPathChars.
var ErrTooLong = errors.New("path longer than SharePoint's 400 characters")

// ErrNameTooLong reports a local name over MaxNameBytes.
var ErrNameTooLong = errors.New("name longer than 255 bytes")

// CheckLocal reports whether a new local name (one element, before
// mapping) fits Linux's limit: ErrNameTooLong or nil. SharePoint counts
// characters, not bytes, and sets no limit of its own on one name below
// its 400-character path (docs/sharepoint.md), so a name that fits here
// needs no second check after mapping, although each mapped character
// grows from 1 to 3 bytes.
func CheckLocal(local string) error {
	if len(local) > MaxNameBytes {
		return ErrNameTooLong
	}
	return nil
}

var (
	toServer = strings.NewReplacer(
		`"`, "\uFF02", `*`, "\uFF0A", `:`, "\uFF1A", `<`, "\uFF1C",
		`>`, "\uFF1E", `?`, "\uFF1F", `\`, "\uFF3C", `|`, "\uFF5C")
	toLocal = strings.NewReplacer(
		"\uFF02", `"`, "\uFF0A", `*`, "\uFF1A", `:`, "\uFF1C", `<`,
		"\uFF1E", `>`, "\uFF1F", `?`, "\uFF3C", `\`, "\uFF5C", `|`)
)

// ToServer maps one local name (no "/") to the name stored on the server.
func ToServer(local string) string { return toServer.Replace(local) }

// ToLocal maps one server name to the name shown to the user.
func ToLocal(server string) string { return toLocal.Replace(server) }

// PathToServer maps a "/"-separated local path, element by element.
func PathToServer(local string) string {
	parts := strings.Split(local, "/")
	for i, p := range parts {
		parts[i] = ToServer(p)
	}
	return strings.Join(parts, "/")
}

// CheckName reports whether the server accepts name (a server name, one
// element). It returns ErrReserved or nil.
func CheckName(name string) error {
	if name == "" || strings.TrimSpace(name) != name {
		return ErrReserved
	}
	low := strings.ToLower(name)
	switch low {
	case "con", "prn", "aux", "nul", "desktop.ini", ".lock":
		return ErrReserved
	}
	if len(low) == 4 && (strings.HasPrefix(low, "com") || strings.HasPrefix(low, "lpt")) &&
		low[3] >= '0' && low[3] <= '9' {
		return ErrReserved
	}
	if strings.HasPrefix(name, "~$") || strings.Contains(low, "_vti_") {
		return ErrReserved
	}
	return nil
}

// CheckNew reports whether the server accepts name (a server name, one
// element) for a new item: CheckName's rules, and those that only
// creating needs, because an existing item can never have broken them on
// SharePoint (a lookup of such a name on another WebDAV server still
// works): control characters, a trailing ".", invalid UTF-8, a folder
// starting with "~", and "forms" directly in the library. isDir says a
// folder is made, atRoot that it sits directly in the library. It returns
// ErrReserved or nil.
func CheckNew(name string, isDir, atRoot bool) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if !utf8.ValidString(name) || strings.HasSuffix(name, ".") || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return ErrReserved
	}
	if (isDir && strings.HasPrefix(name, "~")) || (atRoot && strings.EqualFold(name, "forms")) {
		return ErrReserved
	}
	return nil
}

// CheckPath reports whether the server accepts the library-relative
// server path p when the library itself sits at prefixChars characters
// of server-relative path ("/sites/team/Shared Documents" is 28). It
// checks every element with CheckName and the total length.
func CheckPath(p string, prefixChars int) error {
	for _, el := range strings.Split(strings.Trim(p, "/"), "/") {
		if el == "" {
			continue
		}
		if err := CheckName(el); err != nil {
			return err
		}
	}
	if prefixChars+utf8.RuneCountInString(strings.TrimRight(p, "/")) > MaxPathChars {
		return ErrTooLong
	}
	return nil
}
