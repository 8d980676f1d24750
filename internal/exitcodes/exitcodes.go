package exitcodes

const (
	// OK: success (for mount: unmounted cleanly).
	OK = 0
	// Other: an error that has no more specific code.
	Other = 1
	// Usage: bad command line (unknown flag, missing argument, bad value).
	Usage = 2
	// Auth: the credentials were missing, unreadable, or refused.
	Auth = 3
	// Server: the server could not be reached or refused the library URL.
	Server = 4
	// CacheDir: the cache directory or its database could not be used
	// (permissions, another odfb holding it, a newer schema).
	CacheDir = 5
	// Mount: the kernel mount failed (mountpoint missing or busy, no
	// /dev/fuse, fusermount3 missing).
	Mount = 6
	// Pending: unmounted, but uploads are still pending in the journal
	// (write side; they resume at the next mount).
	Pending = 7
)
