package funclen

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	dir := t.TempDir()
	src := "package p\n\ntype T struct{}\n\nfunc (t *T) M() {\n\t_ = 1\n\t_ = 2\n}\n\nfunc F() {}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n\nfunc G() {\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fns, err := Dir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(fns) != 2 || fns[0].Name != "(*T).M" || fns[0].Lines != 4 || fns[1].Name != "F" || fns[1].Lines != 1 {
		t.Fatalf("got %+v", fns)
	}
	if fns, _ := Dir(dir, true); len(fns) != 3 {
		t.Fatalf("with tests: %+v", fns)
	}
}
