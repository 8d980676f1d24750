// Package units parses the sizes and rates written on command lines
// ("250M", "1G", "64KiB/s"). It owns only parsing and formatting; it must
// not know about any flag or package that uses it.
package units
