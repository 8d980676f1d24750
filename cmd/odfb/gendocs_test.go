package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// gendocs runs odfb gendocs into a temporary folder and returns it.
func gendocs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// gendocs changes these; restored after the test.
	for _, v := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(v, os.Getenv(v))
	}
	var out, errb strings.Builder
	if code := run([]string{"gendocs", dir}, &out, &errb); code != 0 {
		t.Fatalf("odfb gendocs: exit %d %s", code, errb.String())
	}
	return dir
}

func readGen(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// set returns the sorted distinct first submatches of re in s.
func set(re *regexp.Regexp, s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		n := strings.ReplaceAll(m[1], `\-`, "-")
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// manSection returns the text of a man page from the line starting with
// start up to the next .SS or .SH.
func manSection(page, start string) string {
	i := strings.Index(page, "\n"+start+"\n")
	if i < 0 {
		return ""
	}
	rest := page[i+len(start)+2:]
	if j := regexp.MustCompile(`\n\.S[SH] `).FindStringIndex(rest); j != nil {
		rest = rest[:j[0]]
	}
	return rest
}

// TestManMatchesHelp: every command of "odfb --help" has a section in
// odfb(1), and every flag its --help prints is in that section and the
// other way round; mount.odfb(8) and mount.odfb --help list the same
// options; the completions offer every command and flag.
func TestManMatchesHelp(t *testing.T) {
	dir := gendocs(t)
	man := readGen(t, dir, "odfb.1")
	helper := readGen(t, dir, "mount.odfb.8")
	bash := readGen(t, dir, "odfb.bash-completion")
	zsh := readGen(t, dir, "_odfb")

	var out, errb strings.Builder
	run([]string{"--help"}, &out, &errb)
	cmds := set(regexp.MustCompile(`(?m)^  ([a-z]+) `), strings.Split(out.String(), "exit codes:")[0])
	if len(cmds) < 7 {
		t.Fatalf("parsed commands %v from odfb --help:\n%s", cmds, out.String())
	}
	helpFlag := regexp.MustCompile(`(?m)^  -([a-z][a-z-]*)`)
	manFlag := regexp.MustCompile(`(?m)^\\fB\\-\\-([a-z\\-]+)\\fR`)
	for _, c := range cmds {
		sec := manSection(man, ".SS odfb "+c)
		if sec == "" {
			t.Errorf("odfb(1) has no section for odfb %s", c)
			continue
		}
		var o, e strings.Builder
		run([]string{c, "--help"}, &o, &e)
		help := set(helpFlag, o.String()+e.String())
		inMan := set(manFlag, sec)
		if strings.Join(help, " ") != strings.Join(inMan, " ") {
			t.Errorf("odfb %s: --help has flags %v, odfb(1) has %v", c, help, inMan)
		}
		bashLine := regexp.MustCompile(`(?m)^\t` + c + `\) flags='([^']*)'`).FindStringSubmatch(bash)
		zshSec := zsh[strings.Index(zsh, "\t"+c+")\n"):]
		for _, f := range help {
			if bashLine == nil || !strings.Contains(" "+bashLine[1]+" ", " --"+f+" ") {
				t.Errorf("bash completion of odfb %s lacks --%s", c, f)
			}
			if !strings.Contains(zshSec[:strings.Index(zshSec, ";;")], "'--"+f) {
				t.Errorf("zsh completion of odfb %s lacks --%s", c, f)
			}
		}
		if !strings.Contains(bash, " "+c+" ") && !strings.Contains(bash, "'"+c+" ") && !strings.Contains(bash, " "+c+"'") {
			t.Errorf("bash completion does not offer the command %s", c)
		}
	}
	if n := len(set(manFlag, man)); n < 30 {
		t.Errorf("odfb(1) documents only %d distinct flags", n)
	}

	var ho, he strings.Builder
	mountHelper([]string{"--help"}, &ho, &he)
	opt := regexp.MustCompile(`(?m)^  ([a-z_]+)`)
	helpOpts := set(opt, strings.ReplaceAll(ho.String(), "ro, rw", "ro\n  rw"))
	manOpts := set(regexp.MustCompile(`(?m)^\\fB([a-z_]+)`), strings.ReplaceAll(manSection(helper, ".SH OPTIONS"), "ro, rw", "ro\n\\fBrw"))
	if len(helpOpts) < 25 || strings.Join(helpOpts, " ") != strings.Join(manOpts, " ") {
		t.Errorf("mount.odfb --help has options %v,\nmount.odfb(8) has %v", helpOpts, manOpts)
	}
	for n := range helperValueFlags {
		if !strings.Contains(helper, `\fB`+strings.ReplaceAll(n, "-", "_")+"=") {
			t.Errorf("mount.odfb(8) lacks %s=", n)
		}
	}
}
