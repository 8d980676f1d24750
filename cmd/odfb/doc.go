// Command odfb mounts a OneDrive for Business or SharePoint Online
// document library as a Linux filesystem.
//
// One file per subcommand (cmd_mount.go, cmd_version.go, cmd_login.go,
// cmd_cookies.go); main.go dispatches. Each subcommand has its own
// flag.FlagSet and accepts flags before and after its positional
// arguments. Authentication flags are shared (authflags.go,
// authflags_modern.go). Exit codes are internal/exitcodes.
//
// Flag sets are made with newFlagSet (usage.go), so that odfb gendocs
// (gendocs.go) writes the man pages and shell completions from the same
// definitions --help prints. mount_helper.go is mount(8)'s helper, also
// reached as "odfb URL DIR -o OPTIONS" (fstab type fuse.odfb).
// mount_libs.go opens the libraries of a mount (one, several, or a
// site's), one authenticator per host; metrics_wire.go feeds
// internal/metrics.
//
// The command wires the layers together (davclient → cache → fusefs) and
// must not know HTTP details or bbolt.
package main
