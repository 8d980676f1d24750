package fusefs_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/remote/remotetest"
)

// procMountsEntry returns the fields of mnt's line in /proc/mounts.
func procMountsEntry(t *testing.T, mnt string) []string {
	t.Helper()
	f, err := os.Open("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	esc := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(mnt)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 4 && fields[1] == esc {
			return fields
		}
	}
	t.Fatalf("%s is not in /proc/mounts", mnt)
	return nil
}

// TestMountTableEntry: the mount shows in /proc/mounts (so in mount, df
// and findmnt) with source "odfb" and type "fuse.odfb", rw or ro as
// asked, and with default_permissions (the kernel checks modes).
func TestMountTableEntry(t *testing.T) {
	for _, ro := range []bool{false, true} {
		m := fstest.Mount(t, fstest.Config{Remote: remotetest.New(), FS: fusefs.Options{ReadOnly: ro}})
		fields := procMountsEntry(t, m.Dir)
		if fields[0] != "odfb" || fields[2] != "fuse.odfb" {
			t.Errorf("read-only %v: /proc/mounts has source %q type %q; want odfb, fuse.odfb", ro, fields[0], fields[2])
		}
		opts := "," + fields[3] + ","
		want := ",rw,"
		if ro {
			want = ",ro,"
		}
		if !strings.Contains(opts, want) || !strings.Contains(opts, ",default_permissions,") {
			t.Errorf("read-only %v: options %q lack %s or default_permissions", ro, fields[3], want)
		}
		m.Unmount(t)
	}
}

// TestAllowOther: without AllowOther (--allow-other) the kernel refuses
// every other user on the mount, even a plain stat of the mountpoint
// (EACCES) — while that user can stat the directory above it; with it,
// another user can stat the mountpoint and sees the owner and mode.
func TestAllowOther(t *testing.T) {
	testenv.NeedFUSE(t)
	statBin := testenv.LookPath(t, "stat")
	for _, allow := range []bool{false, true} {
		m := fstest.Mount(t, fstest.Config{Remote: remotetest.New(), FS: fusefs.Options{AllowOther: allow, UID: 1234, GID: 2345}})
		fstest.OpenToOthers(t, filepath.Dir(m.Dir))
		if out, err := fstest.AsNobody(t, nil, statBin, "-c", "%u:%g %a", filepath.Dir(m.Dir)); err != nil {
			t.Fatalf("uid 65534 cannot stat the mountpoint's parent (test setup): %v %s", err, out)
		}
		out, err := fstest.AsNobody(t, nil, statBin, "-c", "%u:%g %a", m.Dir)
		switch {
		case !allow && (err == nil || !strings.Contains(out, "Permission denied")):
			t.Errorf("without allow_other, uid 65534 stat of the mountpoint: %q, %v; want Permission denied", out, err)
		case allow && (err != nil || out != "1234:2345 755"):
			t.Errorf("with allow_other, uid 65534 stat of the mountpoint: %q, %v; want 1234:2345 755", out, err)
		}
		m.Unmount(t)
	}
}
