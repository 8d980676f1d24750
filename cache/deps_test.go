package cache

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPartsDependencyRule holds the rule of doc.go: of this module, a
// part under cache/internal/ imports remote (and remote/remotetest in
// tests), internal/names, internal/diskio, metadb and kinds at most —
// never cache, never another part; test files included. metadb and
// kinds themselves import no part.
func TestPartsDependencyRule(t *testing.T) {
	const mod = "github.com/odfb/odfb/"
	allowed := map[string]bool{mod + "cache/internal/metadb": true, mod + "cache/internal/kinds": true}
	parts, err := os.ReadDir("internal")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 6 {
		t.Fatalf("found %d parts under cache/internal", len(parts))
	}
	for _, part := range parts {
		files, _ := filepath.Glob(filepath.Join("internal", part.Name(), "*.go"))
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				ok := !strings.HasPrefix(p, mod) || p == mod+"remote" || strings.HasPrefix(p, mod+"remote/") ||
					p == mod+"internal/names" || p == mod+"internal/diskio" || (allowed[p] && part.Name() != "metadb" && part.Name() != "kinds")
				if !ok {
					t.Errorf("%s imports %s: a part imports remote, internal/names, internal/diskio, metadb and kinds at most, never cache or another part", f, p)
				}
			}
		}
	}
}
