// Package spemutest starts an in-process spemu for a test.
//
// It owns nothing but the helper: the server, its temp root and its
// shutdown are tied to the test's lifetime with t.Cleanup. It must not be
// imported by non-test code.
package spemutest
