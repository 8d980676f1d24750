package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/odfb/odfb/internal/exitcodes"
)

const mainUsage = `usage: odfb COMMAND [options] [arguments]

commands:
  mount     mount a library:           odfb mount [options] URL MOUNTPOINT
  sync      wait for pending uploads:  odfb sync MOUNTPOINT
  status    show the upload queue:     odfb status MOUNTPOINT
  unmount   drain uploads, unmount:    odfb unmount MOUNTPOINT
  login     sign in once (OAuth):      odfb login URL
  cookies   print a Cookie header:     odfb cookies [options] URL
  version   print the version

"odfb COMMAND --help" documents every option of a command.
"odfb URL MOUNTPOINT -o OPTIONS" (what mount.fuse3 runs for an /etc/fstab
line of type fuse.odfb) mounts as mount.odfb does: mount.odfb --help.

exit codes:
  0 ok   1 other error   2 usage   3 authentication   4 server unreachable
  or refused the URL   5 cache directory unusable   6 mount failed
  7 unmounted with uploads pending
`

type command func(args []string, stdout, stderr io.Writer) int

var commands = map[string]command{
	"mount":   cmdMount,
	"login":   cmdLogin,
	"cookies": cmdCookies,
	"version": cmdVersion,
}

func main() {
	// Installed as /sbin/mount.odfb, the binary is mount(8)'s helper.
	if filepath.Base(os.Args[0]) == "mount.odfb" {
		os.Exit(mountHelper(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// isMountSource reports whether a first argument is a library URL (or
// the FUSE-style "odfb#URL", or the label "odfb" of an fstab line whose
// libraries come from libraries=FILE) rather than a command.
func isMountSource(a string) bool {
	return a == "odfb" || strings.HasPrefix(a, "odfb#") || strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "http://")
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitcodes.Usage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage)
		return exitcodes.OK
	case "--version", "-version":
		return cmdVersion(nil, stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok && isMountSource(args[0]) {
		// An /etc/fstab line of type fuse.odfb: mount.fuse3 runs
		// "odfb SOURCE MOUNTPOINT -o OPTIONS", which mounts exactly as
		// mount.odfb does.
		return mountHelper(args, stdout, stderr)
	}
	if !ok {
		fmt.Fprintf(stderr, "odfb: unknown command %q\n\n%s", args[0], mainUsage)
		return exitcodes.Usage
	}
	return cmd(args[1:], stdout, stderr)
}
