package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/exitcodes"
)

func init() {
	commands["sync"] = cmdSync
	commands["status"] = cmdStatus
	commands["unmount"] = cmdUnmount
}

const syncUsage = `usage: odfb sync [--timeout D] MOUNTPOINT

Uploads every file journaled by the mount at MOUNTPOINT now (skipping the
--write-back wait and any retry backoff) and waits until each is on the
server. Exit 0: everything closed before the sync began is on the server.
Exit 7: some uploads failed (they stay queued and are retried; the reason
is printed) or went to lost+found. Files still open are not waited for.

options:
`

// controlFlags parses "[options] MOUNTPOINT" for the control commands.
func controlFlags(name, usage string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (string, int, bool) {
	fs := newFlagSet(name, usage, stderr)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", exitcodes.OK, false
		}
		return "", exitcodes.Usage, false
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", exitcodes.Usage, false
	}
	return pos[0], 0, true
}

func cmdSync(args []string, stdout, stderr io.Writer) int {
	var timeout time.Duration
	mnt, code, ok := controlFlags("sync", syncUsage, args, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", 0, "give up after this long (0: wait as long as it takes)")
	})
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := control.Call(ctx, mnt, control.Request{Op: "sync"})
	if err != nil {
		fmt.Fprintf(stderr, "odfb sync: %v\n", err)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return exitcodes.Pending
		}
		return exitcodes.Other
	}
	if resp.OK {
		return exitcodes.OK
	}
	fmt.Fprintf(stderr, "odfb sync: %s\n", resp.Error)
	var st cache.Status
	if json.Unmarshal(resp.Status, &st) == nil {
		printStatus(stderr, st)
	}
	return exitcodes.Pending
}
