// Package matrix checks a mounted library against a model of the truth.
//
// A Workload is a seeded random mix of file operations — create,
// overwrite in place, append, truncate, rename (files and folders, across
// folders, onto an existing name), unlink, mkdir, rmdir, set mtime, read
// back — run through a real mount on several application threads. Each
// thread owns one folder of the library and keeps a Model of it: what
// every file must contain, what every operation may return. The threads
// run at the same time, so the mount sees their operations interleaved;
// each thread's model stays exact because no other thread touches its
// folder.
//
// After the workload (and `odfb sync`), Verify compares the server's tree
// (spemu's directory) and the tree read back through the mount with the
// models, byte for byte. A failure names the seed; Shrink finds the
// shortest prefix of the operations that still fails, so a failing case
// can be replayed with few steps.
//
// When the server misbehaves (faults injected by spemu), an operation
// that reaches the server synchronously (mkdir, rmdir, rename, unlink)
// may fail with EIO after its retries, and the server may or may not have
// carried it out (an answer lost after the change was made). The model
// then allows exactly two outcomes, before and after, and asks the mount
// which one happened; anything else is a failure. Data written and
// closed is never allowed to be lost: close() returns once the data is
// journaled, and the upload retries until it succeeds.
//
// The package holds no test of its own beyond the model's unit tests:
// the cases (faults combined with the workload) are in matrix_test.go,
// short in `make test` and long in `make soak`.
package matrix
