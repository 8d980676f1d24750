// Package remote is the contract between odfb's cache and the server that
// holds a document library.
//
// It owns the Remote and ChunkedUploader interfaces, the Entry and option
// types they use, library-relative path helpers, and the error kinds every
// implementation reports (errors.Is(err, remote.ErrNotFound), …).
//
// It sits below both sides of the design's picture: cache imports it to
// call a server without knowing HTTP, and davclient imports it to
// implement the interface without knowing bbolt or FUSE. It must stay
// small and import nothing from the project.
package remote
