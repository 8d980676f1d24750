package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Every command's flags are defined once, in its flag.FlagSet; --help,
// the man pages and the shell completions (gendocs.go) are all written
// from those definitions, so they cannot disagree.

// collectFlags, when set, receives each flag set newFlagSet makes (the
// man page generator runs each command with --help to see them).
var collectFlags func(name, usage string, fs *flag.FlagSet)

// newFlagSet makes a command's flag set; its usage prints usage (the
// text above the options) and then the options.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	if collectFlags != nil {
		collectFlags(name, usage, fs)
	}
	return fs
}

// flagDoc is one flag as the documentation shows it.
type flagDoc struct {
	Name, Arg, Usage, Default string
	Bool                      bool
}

// cmdDoc is one odfb command: its usage text (synopsis line, paragraphs,
// "options:") and its flags, in name order.
type cmdDoc struct {
	Name, Usage string
	Flags       []flagDoc
}

// docOrder is the order of the commands in odfb(1) and the completions;
// TestManMatchesHelp checks it holds every command.
var docOrder = []string{"mount", "sync", "status", "unmount", "login", "cookies", "version"}

// commandDocs collects every command's flags by running it with --help
// (each returns right after parsing, having done nothing).
func commandDocs() []cmdDoc {
	var out []cmdDoc
	for _, name := range docOrder {
		if name == "version" {
			out = append(out, cmdDoc{Name: name, Usage: "usage: odfb version\n\nPrints the version of odfb, of Go it was built with, and the platform.\n"})
			continue
		}
		got := cmdDoc{Name: name}
		var fs *flag.FlagSet
		collectFlags = func(_, usage string, f *flag.FlagSet) { got.Usage, fs = usage, f }
		commands[name]([]string{"--help"}, io.Discard, io.Discard)
		collectFlags = nil
		if fs != nil {
			// read once the command is done: flags are added after
			// newFlagSet returns.
			got.Flags = flagDocs(fs)
		}
		out = append(out, got)
	}
	return out
}

// flagDocs lists fs's flags in name order.
func flagDocs(fs *flag.FlagSet) []flagDoc {
	var out []flagDoc
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		d := flagDoc{Name: f.Name, Arg: argName(f.Name, arg), Usage: usage, Default: f.DefValue}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			d.Bool, d.Arg = true, ""
		}
		if d.Default == "false" || d.Default == "0" && d.Arg == "" {
			d.Default = ""
		}
		out = append(out, d)
	})
	return out
}

// argName names a flag's value in the documentation, from its name and
// type ("string", "duration", "value", … as flag.UnquoteUsage gives).
func argName(name, typ string) string {
	last := name[strings.LastIndexByte(name, '-')+1:]
	switch {
	case typ == "duration":
		return "DURATION"
	case typ == "int":
		return "N"
	case strings.HasSuffix(name, "-size") || name == "put-limit":
		return "SIZE"
	case name == "credentials" || last == "file":
		return "FILE"
	case last == "dir":
		return "DIR"
	case last == "command":
		return "COMMAND"
	case last == "url" || name == "authority":
		return "URL"
	}
	return strings.ToUpper(last)
}

// mountFlagDocs returns odfb mount's flags.
func mountFlagDocs() []flagDoc {
	for _, c := range commandDocs() {
		if c.Name == "mount" {
			return c.Flags
		}
	}
	return nil
}

// helperOptDoc is one option of mount.odfb.
type helperOptDoc struct {
	Option, Usage string
}

// helperOptionDocs lists mount.odfb's options: its own and every odfb
// mount flag it passes on (from the flag definitions).
func helperOptionDocs() []helperOptDoc {
	out := []helperOptDoc{
		{"ro, rw", "mount read-only (as --read-only) / read-write (the default)"},
		{"config=FILE", "more options, one a line (name=value or a bare name; # comments; the value is the rest of the line, commas included); FILE must be a regular file owned by you or root and writable by no one else, since it may name commands odfb runs; options given with -o win over the file's"},
	}
	for _, f := range mountFlagDocs() {
		if f.Name == "daemon" {
			continue // always on
		}
		opt := strings.ReplaceAll(f.Name, "-", "_")
		usage := f.Usage
		switch {
		case f.Bool:
			usage += " (also " + opt + "=true or =false)"
		default:
			opt += "=" + f.Arg
		}
		if f.Name == "uid" || f.Name == "gid" {
			usage += "; a number or a name"
		}
		if f.Default != "" {
			usage += " (default " + f.Default + ")"
		}
		out = append(out, helperOptDoc{opt, usage})
	}
	return out
}

// helperIgnoredList and helperSecretList are the option names mount.odfb
// ignores and refuses, in order.
func helperIgnoredList() []string {
	l := []string{"user", "users", "comment=", "x-*"}
	for n := range helperIgnored {
		l = append(l, n)
	}
	sort.Strings(l)
	return l
}

func helperSecretList() []string {
	var l []string
	for n := range helperSecrets {
		l = append(l, strings.ReplaceAll(n, "-", "_")+"=")
	}
	sort.Strings(l)
	return l
}

// helperUsage is mount.odfb --help.
func helperUsage() string {
	var b strings.Builder
	b.WriteString(mountHelperUsage)
	b.WriteString("\noptions (comma-separated; odfb mount's flags with \"_\" for \"-\"):\n")
	for _, o := range helperOptionDocs() {
		fmt.Fprintf(&b, "  %s\n    \t%s\n", o.Option, o.Usage)
	}
	fmt.Fprintf(&b, "\nignored: %s\n", strings.Join(helperIgnoredList(), ", "))
	fmt.Fprintf(&b, "refused (a secret would show in ps and /proc): %s\n", strings.Join(helperSecretList(), ", "))
	return b.String()
}
