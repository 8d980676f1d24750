// Package version holds the build's version string, set by the Makefile
// with -ldflags, and the User-Agent odfb sends.
package version
