// Package funclen measures the length of Go functions in lines, from the
// line of `func` to the closing brace, so that the limit issue 10 set
// for cache/ (no function over about 80 lines) can be checked:
//
//	go run ./internal/funclen/cmd/funclen -over 80 cache
//
// Test files (_test.go) are left out unless -tests is given. Cyclomatic
// complexity is measured by gocyclo, pinned in the Makefile's
// `complexity` target.
package funclen
