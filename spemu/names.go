package spemu

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// NameError is a name or path SharePoint refuses. It is answered with
// Config.NameErrorStatus (400 by default) and an X-MSDAVEXT_Error header.
type NameError struct {
	Code int    // the decimal code of X-MSDAVEXT_Error
	Name string // the offending name or path
	Text string // the human text
}

func (e *NameError) Error() string { return fmt.Sprintf("%s: %q", e.Text, e.Name) }

// Header is the X-MSDAVEXT_Error value: "<decimal>; <percent-encoded text>"
// with + for spaces, as MS-WDV 2.2.3 describes.
func (e *NameError) Header() string { return fmt.Sprintf("%d; %s", e.Code, url.QueryEscape(e.Text)) }

// X-MSDAVEXT_Error codes for refused names. SharePoint's exact codes are
// not documented [unc]; these sit in MS-WEBDAVE's File module range.
const (
	codeInvalidName  = 0x00020011 // forbidden character, reserved name, bad spaces
	codePathTooLong  = 0x00020029 // decoded path over 400 characters
	codeAccessDenied = 917656     // 0x000E0098: the cookie-auth refusal
	codeLocked       = 0x00020009 // a locked file
)

const invalidNameText = `The file or folder name contains characters that are not permitted. Please use a different name. A name cannot contain any of the following characters: " * : < > ? / \ |, begin or end with a space, or be a reserved name.`

// MaxNameBytes is the longest name spemu stores: the per-name limit of
// SharePoint is not documented ([unc], 255–256 characters are reported)
// and Linux file systems stop at 255 bytes.
const MaxNameBytes = 255

var reservedNames = map[string]bool{".lock": true, "con": true, "prn": true, "aux": true, "nul": true, "desktop.ini": true}

func init() {
	for i := 0; i <= 9; i++ {
		reservedNames[fmt.Sprintf("com%d", i)] = true
		reservedNames[fmt.Sprintf("lpt%d", i)] = true
	}
}

// CheckName reports whether SharePoint accepts name as a file (isDir
// false) or folder name; atLibRoot says the item sits directly in the
// library (where "forms" is reserved).
func CheckName(name string, isDir, atLibRoot bool) error {
	bad := func() error { return &NameError{Code: codeInvalidName, Name: name, Text: invalidNameText} }
	if name == "" || name == "." || name == ".." || !utf8.ValidString(name) {
		return bad()
	}
	if len(name) > MaxNameBytes {
		return &NameError{Code: codePathTooLong, Name: name,
			Text: fmt.Sprintf("The file or folder name is too long. A name must be %d bytes or less.", MaxNameBytes)}
	}
	if strings.ContainsAny(name, "\"*:<>?/\\|") {
		return bad()
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad()
		}
	}
	if name[0] == ' ' || name[len(name)-1] == ' ' || name[len(name)-1] == '.' {
		return bad()
	}
	low := strings.ToLower(name)
	if reservedNames[low] || strings.Contains(low, "_vti_") || strings.HasPrefix(name, "~$") {
		return bad()
	}
	if atLibRoot && low == "forms" {
		return bad()
	}
	if isDir && strings.HasPrefix(name, "~") {
		return bad()
	}
	return nil
}

// checkNewPath validates the last segment of libPath for creation and the
// length of the whole decoded server-relative path.
func (s *Server) checkNewPath(libPath string, isDir bool) error {
	libPath = cleanLibPath(libPath)
	if err := s.checkPathLength(libPath); err != nil {
		return err
	}
	if libPath == "/" {
		return nil
	}
	i := strings.LastIndexByte(libPath, '/')
	return CheckName(libPath[i+1:], isDir, i == 0)
}

// checkPathLength refuses decoded server-relative paths (site, library and
// the path inside) over MaxPathLength characters.
func (s *Server) checkPathLength(libPath string) error {
	full := s.serverRelative(libPath)
	if utf8.RuneCountInString(full) > MaxPathLength {
		return &NameError{Code: codePathTooLong, Name: full,
			Text: fmt.Sprintf("The specified file or folder name is too long. The URL path for all files and folders must be %d characters or less (not including your server or domain name).", MaxPathLength)}
	}
	return nil
}

// serverRelative is the decoded server-relative URL of a library path.
func (s *Server) serverRelative(libPath string) string {
	libPath = cleanLibPath(libPath)
	if libPath == "/" {
		return s.libPrefix
	}
	return s.libPrefix + libPath
}
