// Command funclen lists the functions under the given folders that are
// longer than -over lines, longest first, and exits 1 when there is one.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/odfb/odfb/internal/funclen"
)

func main() {
	over := flag.Int("over", 80, "report functions longer than this many lines")
	tests := flag.Bool("tests", false, "include _test.go files")
	flag.Parse()
	found := false
	for _, dir := range flag.Args() {
		fns, err := funclen.Dir(dir, *tests)
		if err != nil {
			fmt.Fprintln(os.Stderr, "funclen:", err)
			os.Exit(2)
		}
		for _, f := range fns {
			if f.Lines > *over {
				fmt.Printf("%d %s %s\n", f.Lines, f.Name, f.Pos)
				found = true
			}
		}
	}
	if found {
		os.Exit(1)
	}
}
