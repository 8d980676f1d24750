package fstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Nobody is the uid and gid of the "other user" in permission tests.
const Nobody = 65534

// OpenToOthers makes dir and the directories above it, up to the temp
// root, searchable and readable by every user (t.TempDir makes them
// 0700), so that what another user is refused below dir is refused by
// what is being tested, not by the path to it.
func OpenToOthers(t testing.TB, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// AsNobody runs a program as uid and gid Nobody (no supplementary
// groups; LC_ALL=C so that messages can be matched) and returns its
// combined output, trimmed, and its error. The test must run as root.
func AsNobody(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody}}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
