// Package reach keeps one fact about the server: is it reachable. The
// cache tells it every answer it gets (NoteAnswer, or Away and Back
// directly), and asks it before a request whether to make one (MayAsk)
// and whether stale listings are to be served (Holding).
//
// While the server is away, requests for content are refused until the
// retry interval has passed; then one caller is let through as the
// probe, and any answer brings the server back (OnBack runs then, so
// that uploads waiting for the server go at once). One warning is
// logged when it goes away, one line when it is back.
//
// It is a part of package cache (the dependency rule is in cache/
// doc.go): it imports remote only. Its mutex is a leaf: nothing is
// called while it is held, OnBack included.
package reach
