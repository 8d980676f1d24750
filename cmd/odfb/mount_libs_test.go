package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/internal/testenv"
	"github.com/odfb/odfb/spemu"
)

// TestMountSeveralLibraries: odfb mount URL… MNT shows each library as
// a folder named after it; the three on one host share one sign-in (the
// cookie command runs once per host); a library that is gone and one
// that refuses the credentials show their error in their folders while
// the others read and write;
// odfb sync covers them all; the same through --libraries FILE with the
// names it gives.
func TestMountSeveralLibraries(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	rootA, rootB := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(rootA, "a.txt"), []byte("A"), 0o644)
	os.MkdirAll(filepath.Join(rootA, "Sub"), 0o755)
	os.WriteFile(filepath.Join(rootA, "Sub", "s.txt"), []byte("S"), 0o644)
	os.WriteFile(filepath.Join(rootB, "b.txt"), []byte("B"), 0o644)
	srvA := fstest.StartSpemu(t, spemu.Config{Root: rootA, Auth: "cookie"})
	srvB := fstest.StartSpemu(t, spemu.Config{Root: rootB, Auth: "none", Site: "/sites/team", Library: "Team Files"})
	// A library that refuses us: its server does not know srvA's cookie.
	srvC := fstest.StartSpemu(t, spemu.Config{Auth: "cookie", Site: "/sites/secret", Library: "Secret"})
	dir := t.TempDir()
	cookie := cookieFileFor(t, srvA)
	runs := filepath.Join(dir, "runs")
	cmdline := "echo run >> " + runs + "; sed 's/^Cookie: //' " + cookie
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	gone := srvA.URL() + "/sites/gone/Shared%20Documents"

	code, out := runCmd(t, nil, bin, "mount", "--daemon", "--cookie-command", cmdline, "--cache-dir", filepath.Join(dir, "cache"),
		srvA.LibraryURL(), srvA.LibraryURL()+"/Sub", srvB.LibraryURL(), gone, srvC.LibraryURL(), mnt)
	if code != 0 {
		t.Fatalf("odfb mount: exit %d\n%s", code, out)
	}
	pid := daemonPID(t, mnt)
	ents, _ := os.ReadDir(mnt)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, "|") != "Documents|Secret|Shared Documents|Sub|Team Files" {
		t.Errorf("folders %q", names)
	}
	for p, want := range map[string]string{"Documents/a.txt": "A", "Documents/Sub/s.txt": "S", "Sub/s.txt": "S", "Team Files/b.txt": "B"} {
		if b, err := os.ReadFile(filepath.Join(mnt, p)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "Shared Documents", fusefs.ErrorFile)); err != nil || !strings.Contains(string(b), "is not a library or folder") {
		t.Errorf("the gone library's folder: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "Secret", fusefs.ErrorFile)); err != nil || !strings.Contains(string(b), "refused the credentials") {
		t.Errorf("the refusing library's folder: %q %v", b, err)
	}
	// Three libraries on srvA's host and one each on srvB's and srvC's:
	// one sign-in per host (three runs), plus one renewal for each of the
	// two requests srvC refuses before its library is given up (the
	// change log's first token, then the root listing). One sign-in per
	// library would be seven, before any renewal.
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 5 {
		t.Errorf("the cookie command ran %d times for five libraries on three hosts; want 5 (3 sign-ins, 2 renewals refused)", strings.Count(string(b), "run"))
	}
	os.WriteFile(filepath.Join(mnt, "Team Files", "new.txt"), []byte("to B"), 0o644)
	os.WriteFile(filepath.Join(mnt, "Sub", "new.txt"), []byte("to A/Sub"), 0o644)
	if code, _, errs := runOdfb(t, bin, "sync", mnt); code != 0 {
		t.Errorf("odfb sync: exit %d %s", code, errs)
	}
	if b, err := srvB.ReadFile("/new.txt"); err != nil || string(b) != "to B" {
		t.Errorf("B new.txt: %q %v", b, err)
	}
	if b, err := srvA.ReadFile("/Sub/new.txt"); err != nil || string(b) != "to A/Sub" {
		t.Errorf("A Sub/new.txt: %q %v", b, err)
	}
	if code, out, _ := runOdfb(t, bin, "status", mnt); code != 0 || !strings.Contains(out, "Shared Documents: not mounted") {
		t.Errorf("odfb status: exit %d %s", code, out)
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: %d %s", code, errs)
	}
	waitGone(t, pid)

	// A --libraries file names the folders.
	libs := filepath.Join(dir, "libraries.conf")
	os.WriteFile(libs, []byte("# name = URL\nmine = "+srvA.LibraryURL()+"/Forms/AllItems.aspx\nteam = "+srvB.LibraryURL()+"\n"), 0o600)
	code, out = runCmd(t, nil, bin, "mount", "--daemon", "--cookie-command", cmdline, "--cache-dir", filepath.Join(dir, "cache"), "--libraries", libs, mnt)
	if code != 0 {
		t.Fatalf("odfb mount --libraries: exit %d\n%s", code, out)
	}
	pid = daemonPID(t, mnt)
	for p, want := range map[string]string{"mine/a.txt": "A", "team/new.txt": "to B"} {
		if b, err := os.ReadFile(filepath.Join(mnt, p)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: %d %s", code, errs)
	}
	waitGone(t, pid)
}

// TestMountSite: a site's address mounts the site's document libraries
// as folders (listed with SharePoint REST; spemu's site also has Site
// Pages and a hidden library, which are left out); a site whose lists
// cannot be read shows the error in its folder.
func TestMountSite(t *testing.T) {
	testenv.NeedFUSE(t)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	bin := buildOdfb(t)
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "b.txt"), []byte("B"), 0o644)
	srv := fstest.StartSpemu(t, spemu.Config{Root: root, Auth: "none", Site: "/sites/team", Library: "Team Files"})
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	cleanupMount(t, mnt)
	code, out := runCmd(t, nil, bin, "mount", "--daemon", "--auth", "none", "--cache-dir", filepath.Join(dir, "cache"),
		srv.URL()+"/sites/team/SitePages/Home.aspx", srv.URL()+"/sites/nosite/SitePages/Home.aspx", mnt)
	if code != 0 {
		t.Fatalf("odfb mount: exit %d\n%s", code, out)
	}
	pid := daemonPID(t, mnt)
	ents, _ := os.ReadDir(mnt)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, "|") != "Team Files|nosite" {
		t.Errorf("folders %q, want Team Files and nosite", names)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "Team Files", "b.txt")); err != nil || string(b) != "B" {
		t.Errorf("Team Files/b.txt: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "nosite", fusefs.ErrorFile)); err != nil || !strings.Contains(string(b), "cannot list the document libraries of the site") {
		t.Errorf("nosite's folder: %q %v", b, err)
	}
	if code, _, errs := runOdfb(t, bin, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: %d %s", code, errs)
	}
	waitGone(t, pid)
}
