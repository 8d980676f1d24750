// Command odfb mounts a OneDrive for Business or SharePoint Online
// document library as a Linux filesystem.
//
// One file per subcommand (cmd_mount.go, cmd_version.go, cmd_login.go,
// cmd_cookies.go); main.go dispatches. Each subcommand has its own
// flag.FlagSet and accepts flags before and after its positional
// arguments. Authentication flags are shared (authflags.go,
// authflags_modern.go). Exit codes are internal/exitcodes.
//
// The command wires the layers together (davclient → cache → fusefs) and
// must not know HTTP details or bbolt.
package main
