package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/exitcodes"
)

const unmountUsage = `usage: odfb unmount [--timeout D] MOUNTPOINT

Asks the mount at MOUNTPOINT to unmount: it uploads what is queued first
(up to its --drain-timeout), then exits. What cannot be uploaded stays in
the journal and resumes at the next mount. Waits until the mount has
exited.

options:
`

func cmdUnmount(args []string, stdout, stderr io.Writer) int {
	var timeout time.Duration
	mnt, code, ok := controlFlags("unmount", unmountUsage, args, stderr, func(fs *flag.FlagSet) {
		fs.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the mount to exit")
	})
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := control.Call(ctx, mnt, control.Request{Op: "unmount"})
	if err != nil {
		fmt.Fprintf(stderr, "odfb unmount: %v\n", err)
		return exitcodes.Other
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "odfb unmount: %s\n", resp.Error)
		return exitcodes.Other
	}
	// The mount removes its socket when it exits.
	sock, _ := control.SocketPath(mnt)
	pending := 0
	for {
		r, err := control.Call(ctx, mnt, control.Request{Op: "status"})
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "odfb unmount: the mount has not exited after %v (uploads still draining?)\n", timeout)
				return exitcodes.Pending
			}
			if _, serr := os.Stat(sock); errors.Is(serr, os.ErrNotExist) || errors.Is(err, control.ErrNoMount) {
				break
			}
		} else if r.OK {
			pending = countQueue(r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pending > 0 {
		fmt.Fprintf(stderr, "odfb unmount: unmounted; up to %d uploads may still be queued in the journal (they resume at the next mount)\n", pending)
	}
	return exitcodes.OK
}
