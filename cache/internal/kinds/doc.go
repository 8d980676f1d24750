// Package kinds holds the cache's own error kinds and their *Error, so
// that every part of cache/internal answers with the same kinds that
// package cache re-exports and fusefs's errno table maps (fusefs/
// errno.go). A kind that means what a remote kind means also matches
// that kind (Error.Is).
package kinds
