package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/odfb/odfb/internal/units"
)

// parseInterspersed parses fs over args, accepting flags before and after
// the positional arguments ("odfb mount URL /mnt --read-only"). "--" ends
// flag parsing. It returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first non-flag, or after "--".
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// sizeFlag is a byte count given as 1073741824, 512M, 10G, 1.5GiB…
type sizeFlag int64

func (s *sizeFlag) String() string { return units.FormatSize(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := units.ParseSize(v)
	if err != nil {
		return fmt.Errorf("%q is not a size (like 512M, 10G)", v)
	}
	*s = sizeFlag(n)
	return nil
}

// octalFlag is a permission mask given in octal (022).
type octalFlag struct {
	v   uint32
	set bool
}

func (o *octalFlag) String() string { return fmt.Sprintf("%03o", o.v) }

func (o *octalFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return errors.New("want an octal mask such as 022")
	}
	o.v, o.set = uint32(n), true
	return nil
}

// idFlag is a uid or gid; set tells whether it was given.
type idFlag struct {
	v   uint32
	set bool
}

func (o *idFlag) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatUint(uint64(o.v), 10)
}

func (o *idFlag) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return errors.New("want a number")
	}
	o.v, o.set = uint32(n), true
	return nil
}
