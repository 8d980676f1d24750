package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether missing tools fail tests instead of skipping them.
func Strict() bool { return os.Getenv("ODFB_REQUIRE_TOOLS") == "1" }

// Missing skips the test, or fails it when Strict, saying why.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("required by this test but missing (ODFB_REQUIRE_TOOLS=1): %s", why)
	}
	t.Skipf("skipped: %s (set ODFB_REQUIRE_TOOLS=1 to make this a failure)", why)
}

// LookPath returns the path of program, or skips/fails the test.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		// Debian puts some daemons in /usr/sbin, which a user's PATH may lack.
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if _, serr := os.Stat(dir + "/" + program); serr == nil {
				return dir + "/" + program
			}
		}
		Missing(t, "program "+program+" not found in PATH")
	}
	return p
}

// NeedFUSE skips/fails unless this process can mount FUSE filesystems
// without help (root and /dev/fuse).
func NeedFUSE(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "FUSE mount tests run as root (go-fuse DirectMount)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		Missing(t, "/dev/fuse is not available")
	}
}
