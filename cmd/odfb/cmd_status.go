package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/exitcodes"
)

const statusUsage = `usage: odfb status [--json] MOUNTPOINT

Shows the upload queue of the mount at MOUNTPOINT (a progress bar with
bytes, rate and ETA for each running upload; attempts and the last error
of failing ones), files moved to lost+found, conflict copies made, the
authentication state and the cache's disk use.

options:
`

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	mnt, code, ok := controlFlags("status", statusUsage, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the raw status as JSON")
	})
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := control.Call(ctx, mnt, control.Request{Op: "status"})
	if err != nil {
		fmt.Fprintf(stderr, "odfb status: %v\n", err)
		return exitcodes.Other
	}
	if !resp.OK {
		fmt.Fprintf(stderr, "odfb status: %s\n", resp.Error)
		return exitcodes.Other
	}
	if asJSON {
		stdout.Write(resp.Status)
		fmt.Fprintln(stdout)
		return exitcodes.OK
	}
	var st cache.Status
	if err := json.Unmarshal(resp.Status, &st); err != nil {
		fmt.Fprintf(stderr, "odfb status: %v\n", err)
		return exitcodes.Other
	}
	printStatus(stdout, st)
	return exitcodes.OK
}

// human formats a byte count: 1.5 MiB.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// bar draws a progress bar of width cells.
func bar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("#", width) + "]"
	}
	n := int(float64(done) / float64(total) * float64(width))
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func printStatus(w io.Writer, st cache.Status) {
	running, waiting, failing := 0, 0, 0
	for _, q := range st.Queue {
		switch {
		case q.Uploading:
			running++
		case q.Attempts > 0:
			failing++
		default:
			waiting++
		}
	}
	fmt.Fprintf(w, "uploads: %d queued (%d running, %d waiting, %d failing)\n", len(st.Queue), running, waiting, failing)
	for _, q := range st.Queue {
		switch {
		case q.Uploading:
			line := fmt.Sprintf("  %s %3d%% %s  %s / %s", bar(q.Sent, q.Size, 20), pct(q.Sent, q.Size), q.Path, human(q.Sent), human(q.Size))
			if el := st.Now.Sub(q.Started).Seconds(); el > 0.5 && q.Sent > 0 {
				rate := float64(q.Sent) / el
				eta := time.Duration(float64(q.Size-q.Sent) / rate * float64(time.Second)).Round(time.Second)
				line += fmt.Sprintf("  %s/s  ETA %s", human(int64(rate)), eta)
			}
			if q.Chunked {
				line += fmt.Sprintf("  (chunked, %s confirmed)", human(q.Offset))
			}
			fmt.Fprintln(w, line)
		case q.Attempts > 0:
			fmt.Fprintf(w, "  FAILING %s (%s): %d attempts, last error: %s; next try in %s\n", q.Path, human(q.Size),
				q.Attempts, q.LastError, q.NextTry.Sub(st.Now).Round(time.Second))
		case q.Open:
			fmt.Fprintf(w, "  open    %s (%s)\n", q.Path, human(q.Size))
		default:
			fmt.Fprintf(w, "  waiting %s (%s)\n", q.Path, human(q.Size))
		}
	}
	if len(st.LostFound) > 0 {
		fmt.Fprintf(w, "lost+found: %d files the server refused (kept locally):\n", len(st.LostFound))
		for _, l := range st.LostFound {
			fmt.Fprintf(w, "  %s -> %s: %s\n", l.Path, l.File, l.Reason)
		}
	}
	if len(st.Conflicts) > 0 {
		fmt.Fprintf(w, "conflicts: %d (both versions kept on the server):\n", len(st.Conflicts))
		for _, c := range st.Conflicts {
			fmt.Fprintf(w, "  %s: ours is %s\n", c.Path, c.Copy)
		}
	}
	switch {
	case st.AuthError != "":
		step, msg, next := authStep(st.AuthError)
		fmt.Fprintf(w, "auth: FAILING at sign-in step %s: %s\n", step, msg)
		fmt.Fprintf(w, "  next: %s (uploads wait and are retried)\n", next)
	case st.Offline:
		fmt.Fprintln(w, "server: unreachable; serving the cache, uploads wait")
	default:
		fmt.Fprintln(w, "auth: ok")
	}
	fmt.Fprintf(w, "cache: %s content, %s staged, in %s\n", human(st.ContentBytes), human(st.StagingBytes), st.CacheDir)
}

func pct(a, b int64) int {
	if b <= 0 {
		return 100
	}
	return int(a * 100 / b)
}

// countQueue returns the queue length in a raw status.
func countQueue(raw []byte) int {
	var st cache.Status
	if json.Unmarshal(raw, &st) != nil {
		return 0
	}
	return len(st.Queue)
}

// authStep splits an authentication error into the sign-in step that
// failed — token (Entra ID), exchange (SharePoint turning the token into
// a cookie) or cookie (SharePoint refusing the session) — the error, and
// the next thing to try. Errors of davclient/auth's StepError carry both
// ("sign-in step S failed: …; next: …"); for the others the step is read
// from what the error names.
func authStep(e string) (step, msg, next string) {
	if i := strings.Index(e, "sign-in step "); i >= 0 {
		rest := e[i+len("sign-in step "):]
		if s, after, ok := strings.Cut(rest, " failed: "); ok {
			step = s
			msg, next, _ = strings.Cut(after, "; next: ")
			if pre := strings.TrimSuffix(strings.TrimSpace(e[:i]), ":"); pre != "" {
				msg = pre + ": " + msg
			}
			if next != "" {
				return step, msg, next
			}
		}
	}
	msg = e
	low := strings.ToLower(e)
	switch {
	case strings.Contains(low, "token exchange") || strings.Contains(low, "sp.oauth.nativeclient") || strings.Contains(low, "cookie exchange"):
		step = "exchange"
		next = "another --client-id, cookies from a browser (--cookies-from-browser), or a --cookie-command / --bearer-command"
	case strings.Contains(low, "aadsts") || strings.Contains(low, "oauth2") || strings.Contains(low, "stored login") ||
		strings.Contains(low, "sts ") || strings.Contains(low, "bearer-command"):
		step = "token"
		next = "run `odfb login URL` again (docs/login.md, \"When sign-in fails\", lists each AADSTS code)"
	default:
		step = "cookie"
		next = "renew the credentials (a fresh cookie file, `odfb login URL`, or the cookie command)"
	}
	if strings.Contains(e, "odfb login") {
		next = "as the error says"
	}
	return step, msg, next
}
