package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/version"
)

// cmdVersion implements `odfb version`.
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: odfb version")
		return exitcodes.Usage
	}
	fmt.Fprintf(stdout, "odfb %s (%s, %s/%s)\n", version.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitcodes.OK
}
