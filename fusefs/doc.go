// Package fusefs is odfb's filesystem: go-fuse node API types that answer
// the kernel's requests from the cache.
//
// Shape. Every node (node.go) embeds fs.Inode and nothing else; all
// filesystem-wide state (the cache, options, logger) lives in one Root
// (root.go), which every node reaches through rootOf. A node's server
// path is computed from its place in the tree (Inode.Path) and mapped
// with internal/names, the only place where local and server names meet.
// Methods are split by family: node_dir_ops.go (lookup, readdir),
// node_attr.go (getattr, statfs), node_open.go + file.go (open, read),
// node_write_ops.go (create, mkdir, unlink, rmdir, rename, setattr) +
// file.go (write, flush, fsync, release), and
// node_api_check.go says which go-fuse interfaces are implemented and
// which are left out.
//
// Errors. errno.go's toErrno is the one function that turns a domain
// error — the cache's own kinds (cache.ErrNotFound, cache.ErrNoWrites,
// …), the server's passed through it (remote.Err…), names' refusals, a
// local disk's errno (cache.DiskError) — into an errno, with EIO as the
// default; no other code of this package derives an errno from an error,
// and none is handed to fs.ToErrno (it would turn unknown errors into
// ENOTSUP). The errno a node returns without an error (EISDIR for an open
// of a folder, EPERM for mknod, …) is a decision of that node.
//
// Warm reads (kernelio.go): a read-only open of a fully cached file at
// its current version is handed to the kernel — FUSE passthrough with
// the cached content file as backing file where the kernel takes one
// (probed at mount), the page cache kept across opens (keep_cache)
// otherwise — never for a sparse, pending or writable file. Root.kio
// tracks each inode's kernel io mode so no open asks for a mode the
// kernel would refuse. A READ of cached content that does reach odfb is
// answered from the cached file with fuse.ReadResultFd (spliced into
// the reply where the kernel allows), not copied through a buffer.
//
// Writes go to the cache's staging files; Flush and Fsync are where
// upload errors reach the application (go-fuse ignores Release's result).
// Hard links, symbolic links, device nodes and extended attributes do not
// exist in a library: EPERM / ENOTSUP.
//
// fusefs must not know about HTTP, XML or bbolt: it talks only to
// *cache.Cache. Test helpers that mount for real live in fusefs/fstest.
package fusefs
