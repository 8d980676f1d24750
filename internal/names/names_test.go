package names

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMapping(t *testing.T) {
	for _, c := range []struct{ local, server string }{
		{"a:b.txt", "a：b.txt"},
		{`"*:<>?\|`, "＂＊：＜＞？＼｜"},
		{"plain name #1 %20.txt", "plain name #1 %20.txt"},
		{"Ünïcödé", "Ünïcödé"},
	} {
		if got := ToServer(c.local); got != c.server {
			t.Errorf("ToServer(%q) = %q, want %q", c.local, got, c.server)
		}
		if got := ToLocal(c.server); got != c.local {
			t.Errorf("ToLocal(%q) = %q, want %q", c.server, got, c.local)
		}
	}
	if got := PathToServer("/d:1/f?.txt"); got != "/d：1/f？.txt" {
		t.Errorf("PathToServer = %q", got)
	}
}

func TestCheck(t *testing.T) {
	bad := []string{"CON", "con", "Lpt1", "COM9", "desktop.ini", "~$doc.docx", "a_vti_b", ".lock", " lead", "trail ", ""}
	for _, n := range bad {
		if err := CheckName(n); !errors.Is(err, ErrReserved) {
			t.Errorf("CheckName(%q) = %v, want ErrReserved", n, err)
		}
	}
	good := []string{"CONTRACT.txt", "COM10", "lock", "a.lock.txt", "x~$", "normal file.txt"}
	for _, n := range good {
		if err := CheckName(n); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", n, err)
		}
	}
	long := "/" + strings.Repeat("é", 380)
	if err := CheckPath(long, 19); err != nil {
		t.Errorf("381+19 chars: %v", err)
	}
	if err := CheckPath(long, 20); !errors.Is(err, ErrTooLong) {
		t.Errorf("381+20 chars: %v, want ErrTooLong", err)
	}
	if err := CheckPath("/ok/CON/x", 0); !errors.Is(err, ErrReserved) {
		t.Errorf("reserved folder: %v", err)
	}
}

func TestCheckNew(t *testing.T) {
	for _, c := range []struct {
		name          string
		isDir, atRoot bool
		ok            bool
	}{
		{"CON", false, false, false}, {"trail.", false, false, false}, {"a\tb", false, false, false},
		{"a\nb", false, false, false}, {"a\x7fb", false, false, false}, {"bad\xffutf8", false, false, false},
		{"~folder", true, false, false}, {"~file", false, false, true}, {"forms", true, true, false},
		{"Forms", false, true, false}, {"forms", true, false, true}, {"a.b", false, false, true},
		{".hidden", false, false, true}, {"…", false, false, true},
	} {
		err := CheckNew(c.name, c.isDir, c.atRoot)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrReserved)) {
			t.Errorf("CheckNew(%q, dir %v, root %v) = %v, want ok %v", c.name, c.isDir, c.atRoot, err, c.ok)
		}
	}
}

// FuzzRoundTrip checks both directions of the mapping: a server name
// (which never holds the ASCII forbidden characters) survives
// ToServer(ToLocal(s)), and a local name without full-width look-alikes
// survives ToLocal(ToServer(l)).
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"a:b", "x＂y", "plain", `"*:<>?\|`, "＊＊", "é:é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		if !strings.ContainsAny(s, `"*:<>?\|`) {
			if got := ToServer(ToLocal(s)); got != s {
				t.Fatalf("server %q -> local %q -> server %q", s, ToLocal(s), got)
			}
		}
		if !strings.ContainsAny(s, "＂＊：＜＞？＼｜") {
			srv := ToServer(s)
			if strings.ContainsAny(srv, `"*:<>?\|`) {
				t.Fatalf("ToServer(%q) = %q still holds a forbidden character", s, srv)
			}
			if got := ToLocal(srv); got != s {
				t.Fatalf("local %q -> server %q -> local %q", s, srv, got)
			}
		}
	})
}
