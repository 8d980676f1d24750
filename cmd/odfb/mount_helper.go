package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/odfb/odfb/internal/exitcodes"
)

// mount.odfb: the odfb binary invoked under that name (a symlink, which
// make install puts in /sbin) is the external helper mount(8) runs for
// filesystem type odfb:
//
//	mount -t odfb URL DIR -o OPTIONS   →   /sbin/mount.odfb URL DIR [-sfnv] [-o OPTIONS]
//
// It turns OPTIONS into `odfb mount --daemon` flags, so it returns once
// the mount is ready, or fails with odfb mount's exit code and error.

const mountHelperUsage = `usage: mount.odfb URL DIR [-sfnv] [-o OPTIONS] [-t odfb]
       odfb URL DIR [-sfnv] [-o OPTIONS]

The mount(8) helper for filesystem type odfb (mount -t odfb URL DIR -o …,
or an /etc/fstab line of type odfb). For type fuse.odfb, mount.fuse3 runs
"odfb URL DIR -o OPTIONS", which does the same. It mounts as "odfb mount
--daemon" would: it returns once the mount is ready; the background mount
logs to log_file (default <cache_dir>/odfb.log).

Secrets are refused as options (password=, cookie=, token=, …): they
would show in ps and /proc. Use password_file=, cookie_file= or odfb login.
-s ignores unknown options (with a warning), -f checks everything but
does not mount, -v prints the odfb mount command, -n is accepted.
`

// helperValueFlags and helperBoolFlags are odfb mount's flags that an
// option may set (name with "-"; the option is written with "_").
// --daemon is implied; ro/read_only is --read-only.
var helperValueFlags = map[string]bool{
	"auth": true, "cookie-file": true, "cookie-command": true, "username": true, "password-file": true, "cookies-from-browser": true,
	"ca-file": true, "sts-url": true, "authority": true, "client-id": true, "tenant": true,
	"credentials": true, "bearer-command": true, "cache-dir": true, "dir-cache-time": true, "poll-interval": true,
	"cache-size": true, "uid": true, "gid": true, "umask": true, "log-level": true,
	"max-concurrent": true, "write-back": true, "transfers": true, "put-limit": true,
	"chunk-size": true, "drain-timeout": true, "log-file": true, "metrics-addr": true,
	"libraries": true, "passthrough": true,
}

var helperBoolFlags = map[string]bool{
	"allow-other": true, "sync-upload": true, "bearer-on-dav": true, "debug-fuse": true,
	"read-only": true, // handled with ro and rw in helperFlags
}

// helperIgnored are options mount(8) or fstab pass that mean nothing to
// odfb (FUSE mounts are always nosuid,nodev).
var helperIgnored = map[string]bool{
	"defaults": true, "auto": true, "noauto": true, "nouser": true,
	"owner": true, "group": true, "_netdev": true, "nofail": true, "nosuid": true, "nodev": true,
	"suid": true, "dev": true, "exec": true, "noexec": true, "async": true, "atime": true,
	"noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "nostrictatime": true,
	"lazytime": true, "nolazytime": true, "diratime": true, "nodiratime": true, "silent": true,
	"loud": true,
}

// helperSecrets are option names that would carry a secret on the
// command line; refused, whatever their value.
var helperSecrets = map[string]bool{
	"password": true, "passwd": true, "pass": true, "pw": true, "cookie": true, "cookies": true,
	"token": true, "access-token": true, "refresh-token": true, "bearer": true, "secret": true,
	"client-secret": true, "auth-cookies": true,
}

// helperOption is one name[=value] of -o or a config file.
type helperOption struct {
	name, value string
	hasValue    bool
	from        string // "-o" or the config file's path and line
}

// mountHelper implements mount.odfb.
func mountHelper(args []string, stdout, stderr io.Writer) int {
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mount.odfb: "+format+"\n", a...)
		return exitcodes.Usage
	}
	var pos, optStrings []string
	var sloppy, fake, verbose bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, helperUsage())
			return exitcodes.OK
		case a == "-o" || a == "-t" || a == "-N":
			if i+1 >= len(args) {
				return usage("%s needs a value", a)
			}
			i++
			switch a {
			case "-o":
				optStrings = append(optStrings, args[i])
			case "-t":
				if args[i] != "odfb" && args[i] != "fuse.odfb" {
					return usage("filesystem type %q: this helper mounts type odfb", args[i])
				}
			case "-N":
				return usage("-N (mount namespace) is not supported")
			}
		case strings.HasPrefix(a, "-o"):
			optStrings = append(optStrings, a[2:])
		case len(a) > 1 && a[0] == '-':
			for _, c := range a[1:] {
				switch c {
				case 's':
					sloppy = true
				case 'f':
					fake = true
				case 'v':
					verbose = true
				case 'n':
				default:
					return usage("unknown option -%c (mount.odfb --help)", c)
				}
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return usage("want URL and DIR (mount.odfb --help)")
	}
	// fuse-style sources ("odfb#URL") are accepted as well.
	src := strings.TrimPrefix(pos[0], "odfb#")

	var explicit []helperOption
	for _, s := range optStrings {
		o, err := splitMountOptions(s)
		if err != nil {
			return usage("-o %s", err)
		}
		explicit = append(explicit, o...)
	}
	// config= files come first, so an option given with -o wins.
	var opts []helperOption
	for _, o := range explicit {
		if o.name != "config" {
			continue
		}
		if !o.hasValue || o.value == "" {
			return usage("config= needs a file")
		}
		c, err := readHelperConfig(o.value)
		if err != nil {
			return usage("%v", err)
		}
		opts = append(opts, c...)
	}
	for _, o := range explicit {
		if o.name != "config" {
			opts = append(opts, o)
		}
	}

	flags, err := helperFlags(opts, sloppy, stderr)
	if err == nil {
		setHomeFromPasswd()
	}
	if err != nil {
		return usage("%v", err)
	}
	mountArgs := append(append([]string{"--daemon"}, flags...), "--", src, pos[1])
	for _, f := range flags {
		if strings.HasPrefix(f, "--libraries=") {
			// The libraries come from the file; the source field of
			// the fstab line is only a label ("odfb").
			mountArgs = append(append([]string{"--daemon"}, flags...), "--", pos[1])
		}
	}
	if verbose {
		fmt.Fprintf(stderr, "mount.odfb: odfb mount %s\n", strings.Join(mountArgs, " "))
	}
	if fake {
		return exitcodes.OK
	}
	return cmdMount(mountArgs, stdout, stderr)
}

// setHomeFromPasswd sets HOME from the password database when it is
// unset: mount(8), set-user-ID for a "user" fstab line, clears HOME from
// the helper's environment, and the default cache directory, the stored
// login and the log file all live under it.
func setHomeFromPasswd() {
	if os.Getenv("HOME") != "" {
		return
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		os.Setenv("HOME", u.HomeDir)
	}
}

// helperFlags turns options into odfb mount flags.
func helperFlags(opts []helperOption, sloppy bool, stderr io.Writer) ([]string, error) {
	var flags, unknown []string
	readOnly := false
	for _, o := range opts {
		name := strings.ReplaceAll(o.name, "_", "-")
		switch {
		case helperSecrets[name]:
			return nil, fmt.Errorf("option %s= (%s) is refused: a secret given as an option shows in ps and /proc to every user; put it in a file (password_file=, cookie_file=, mode 0600) or use odfb login and credentials=", o.name, o.from)
		case name == "ro":
			readOnly = true
		case name == "rw":
			readOnly = false
		case name == "read-only":
			readOnly = true
			if o.hasValue {
				v, err := strconv.ParseBool(o.value)
				if err != nil {
					return nil, fmt.Errorf("option %s=%s: not a boolean (true, false, 1, 0)", o.name, o.value)
				}
				readOnly = v
			}
		case (helperIgnored[o.name] || helperIgnored[name]) && !o.hasValue,
			name == "comment", name == "user" || name == "users", // user=NAME from libmount
			strings.HasPrefix(name, "x-"):
		case helperBoolFlags[name]:
			if o.hasValue {
				flags = append(flags, "--"+name+"="+o.value)
			} else {
				flags = append(flags, "--"+name)
			}
		case helperValueFlags[name]:
			if !o.hasValue {
				return nil, fmt.Errorf("option %s needs a value (%s=…)", o.name, o.name)
			}
			v := o.value
			if name == "uid" || name == "gid" {
				id, err := lookupID(name, v)
				if err != nil {
					return nil, err
				}
				v = id
			}
			flags = append(flags, "--"+name+"="+v)
		default:
			unknown = append(unknown, o.name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if !sloppy {
			return nil, fmt.Errorf("unknown options: %s (mount.odfb --help lists them)", strings.Join(unknown, ", "))
		}
		fmt.Fprintf(stderr, "mount.odfb: ignoring unknown options (-s): %s\n", strings.Join(unknown, ", "))
	}
	if readOnly {
		flags = append(flags, "--read-only")
	}
	return flags, nil
}

// lookupID accepts a number or a user/group name.
func lookupID(kind, v string) (string, error) {
	if v != "" && strings.Trim(v, "0123456789") == "" {
		return v, nil
	}
	if kind == "uid" {
		u, err := user.Lookup(v)
		if err != nil {
			return "", fmt.Errorf("uid=%s: %v", v, err)
		}
		return u.Uid, nil
	}
	g, err := user.LookupGroup(v)
	if err != nil {
		return "", fmt.Errorf("gid=%s: %v", v, err)
	}
	return g.Gid, nil
}

// splitMountOptions splits a mount(8) option string at commas outside
// double quotes (name="a,b" keeps its comma; the quotes are removed).
func splitMountOptions(s string) ([]helperOption, error) {
	var out []helperOption
	var cur strings.Builder
	quoted := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, parseHelperOption(cur.String(), "-o"))
		}
		cur.Reset()
	}
	for _, c := range s {
		switch {
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	if quoted {
		return nil, errors.New("unbalanced double quote")
	}
	flush()
	return out, nil
}

func parseHelperOption(s, from string) helperOption {
	name, value, ok := strings.Cut(s, "=")
	return helperOption{name: strings.TrimSpace(name), value: value, hasValue: ok, from: from}
}

// readHelperConfig reads a config= file: one option a line (name=value,
// or a bare name), blank lines and lines starting with # skipped; the
// value is the rest of the line, commas included. The file must be
// owned by the user running the helper (or root) and writable by no one
// else, since it may name commands odfb runs.
func readHelperConfig(path string) ([]helperOption, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config=%s: %v", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config=%s: %v", path, err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("config=%s: not a regular file", path)
	case sys.Uid != uint32(os.Geteuid()) && sys.Uid != 0:
		return nil, fmt.Errorf("config=%s: refused: owned by uid %d, not by you (uid %d) or root", path, sys.Uid, os.Geteuid())
	case st.Mode().Perm()&0o022 != 0:
		return nil, fmt.Errorf("config=%s: refused: mode %#o lets others change it (chmod go-w %s)", path, st.Mode().Perm(), path)
	}
	var out []helperOption
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		o := parseHelperOption(line, fmt.Sprintf("%s line %d", path, n))
		o.value = strings.TrimSpace(o.value)
		if o.name == "config" {
			return nil, fmt.Errorf("config=%s line %d: config= cannot be nested", path, n)
		}
		out = append(out, o)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config=%s: %v", path, err)
	}
	return out, nil
}
