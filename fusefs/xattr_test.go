package fusefs_test

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/remote/remotetest"
)

// TestNoXattrIsCachedByTheKernel: extended attributes are answered
// EOPNOTSUPP, which the kernel produces itself once odfb said ENOSYS —
// the answer `ls -l` and cp stop asking after, unlike ENODATA.
func TestNoXattrIsCachedByTheKernel(t *testing.T) {
	f := remotetest.New()
	f.AddFile("/a.txt", []byte("a"), mtime)
	m := fstest.Mount(t, fstest.Config{Remote: f})
	p := filepath.Join(m.Dir, "a.txt")
	buf := make([]byte, 64)
	for i := 0; i < 2; i++ {
		if _, err := unix.Getxattr(p, "security.selinux", buf); !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Fatalf("getxattr #%d: %v, want EOPNOTSUPP", i+1, err)
		}
		if _, err := unix.Listxattr(p, buf); !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Fatalf("listxattr #%d: %v, want EOPNOTSUPP", i+1, err)
		}
	}
	if err := unix.Setxattr(p, "user.x", []byte("1"), 0); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("setxattr: %v, want EOPNOTSUPP", err)
	}
}
