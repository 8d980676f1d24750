// Package names maps file names between what a Linux user sees and what
// SharePoint stores, and decides which names the server will refuse.
//
// It is the one place where this happens: fusefs calls it at the FUSE
// boundary, and everything below (cache, remote) only ever sees server
// names.
//
// Mapping. SharePoint forbids the characters " * : < > ? \ | in names.
// ToServer replaces each of them by its full-width look-alike (U+FF02,
// U+FF0A, U+FF1A, U+FF1C, U+FF1E, U+FF1F, U+FF3C, U+FF5C) and ToLocal
// does the reverse, so a file the user calls "a:b" is stored as "a：b"
// and a file a Windows user saved as "a：b" shows as "a:b". A local name
// that already contains a full-width look-alike is passed through as is
// (it reaches the same server file as its ASCII twin: the two local names
// are aliases, and directory listings show the ASCII form).
//
// Leading and trailing spaces are not mapped: SharePoint strips or refuses
// them, so such names are reported as invalid (EINVAL on create; a lookup
// answers "no such file" without asking the server). "/" and NUL never
// reach this package (the kernel refuses them).
package names
