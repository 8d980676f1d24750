// Package control is the unix socket through which `odfb sync`, `odfb
// status` and `odfb unmount` talk to a running mount.
//
// Where. The socket of the mount at MOUNTPOINT is
// $XDG_RUNTIME_DIR/odfb/<h>.sock (or /tmp/odfb-<uid>/<h>.sock without
// XDG_RUNTIME_DIR), where <h> is the first 16 hex digits of the SHA-256
// of MOUNTPOINT's absolute path: the commands find it from the
// mountpoint alone, without touching the (possibly hung) mount. The
// directory is created 0700 and must belong to the user; the socket is
// 0600, and the server also checks the peer's uid (SO_PEERCRED): only
// the mount's owner (or root) is answered.
//
// Protocol. One JSON request per line ({"op":"sync"|"status"|"unmount"}),
// one JSON response per line ({"ok":…,"error":…,"status":…}); a
// connection may carry several requests.
//
// It owns the socket and the protocol; what the operations do is the
// caller's Handler. It must not know about FUSE or HTTP.
package control
