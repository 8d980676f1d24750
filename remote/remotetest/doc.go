// Package remotetest provides Fake, an in-memory remote.Remote for tests
// of the packages above the remote contract (cache, fusefs, the uploader).
//
// Fake keeps files and folders in a map keyed by case-folded path (the
// server is case-insensitive and case-preserving), counts calls per
// method, records every Get's range, and can be told to fail any method
// with a given error (remote.ErrUnavailable to play "server away").
// It is safe for concurrent use. It does not emulate HTTP: for that, use
// spemu.
package remotetest
