package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/odfb/odfb/internal/units"
	"github.com/odfb/odfb/spemu"
)

const usageHead = `spemu — a SharePoint Online document library emulator for testing odfb.

Usage: spemu [flags]

Serves the directory --root as the document library
  http://<listen><site>/<library>    (default /personal/alice_contoso_com/Documents)
speaking SharePoint's WebDAV dialect, its REST upload API and its sign-in
endpoints. The library URL is the first line of stdout once it listens;
it serves until SIGINT or SIGTERM. Sizes accept units: 250M, 1G, 64K (binary).

Flags:
`

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// sizeFlag is a flag.Value for byte counts with units; with unlimited,
// "-1" and "0" mean no limit (stored as -1).
type sizeFlag struct {
	v         *int64
	unlimited bool
}

func (f sizeFlag) String() string {
	if f.v == nil {
		return ""
	}
	if *f.v < 0 {
		return "-1"
	}
	return units.FormatSize(*f.v)
}

func (f sizeFlag) Set(s string) error {
	if f.unlimited && (strings.TrimSpace(s) == "-1" || strings.TrimSpace(s) == "0") {
		*f.v = -1
		return nil
	}
	n, err := units.ParseSize(s)
	if err != nil {
		return err
	}
	*f.v = n
	return nil
}

// options are the command's flags, bound by newFlagSet.
type options struct {
	cfg                                            spemu.Config
	passwordFile, cookieFile, requestLog, logLevel *string
	login                                          func() (spemu.LoginConfig, error)
}

// newFlagSet defines every flag of the command on a new FlagSet that
// writes its messages (and --help) to stderr.
func newFlagSet(stderr io.Writer) (*flag.FlagSet, *options) {
	fs := flag.NewFlagSet("spemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	cfg := &o.cfg
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8080", "address to listen on, HOST:PORT (port 0 picks a free one)")
	fs.StringVar(&cfg.Root, "root", "", "directory served as the library (default: a new temp dir, removed on exit); spemu keeps its state in ROOT/_vti_pvt")
	fs.StringVar(&cfg.Site, "site", spemu.DefaultSite, "server-relative URL of the site (e.g. /sites/team)")
	fs.StringVar(&cfg.Library, "library", spemu.DefaultLibrary, "URL segment of the document library (e.g. \"Shared Documents\")")
	fs.StringVar(&cfg.Auth, "auth", "cookie", "authentication on WebDAV/REST: cookie (SharePoint session cookies), basic (user + password, for generic WebDAV tools) or none")
	fs.StringVar(&cfg.User, "user", spemu.DefaultUser, "the user name (UPN) of the library's owner")
	o.passwordFile = fs.String("password-file", "", "file holding the user's password (first line; must be mode 0600 or stricter); needed for --auth basic and the sign-in endpoints")
	fs.DurationVar(&cfg.CookieTTL, "cookie-ttl", spemu.DefaultCookieTTL, "lifetime of issued session cookies (FedAuth, rtFa, SPOIDCRL), e.g. 24h, 90s")
	o.cookieFile = fs.String("write-cookie-file", "", "write a valid Cookie header value \"FedAuth=…; rtFa=…\" to FILE (mode 0600) once listening; nothing is written unless --auth cookie")
	cfg.PutLimit = spemu.DefaultPutLimit
	fs.Var(sizeFlag{&cfg.PutLimit, true}, "put-limit", "largest WebDAV PUT body in bytes; bigger ones get 413 and nothing is stored (units: 250M, 2G; -1 or 0: no limit)")
	o.requestLog = fs.String("request-log", "", "append one JSON object per request to FILE (time, method, path, query, status, req_bytes, resp_bytes, dur_ms, fault, …)")
	fs.DurationVar(&cfg.Faults.Latency, "latency", 0, "extra delay before each request is answered, e.g. 50ms")
	fs.Var(sizeFlag{v: &cfg.Faults.Bandwidth}, "bandwidth", "cap in bytes per second on each response and request body, e.g. 10M (0: unlimited)")
	fs.Float64Var(&cfg.Faults.ThrottleRate, "throttle-rate", 0, "fraction (0..1) of requests answered with throttling (--throttle-status, Retry-After)")
	fs.IntVar(&cfg.Faults.ThrottleStatus, "throttle-status", 429, "status of throttled requests: 429 (body \"429 TOO MANY REQUESTS\") or 503 (\"Server Too Busy\")")
	fs.IntVar(&cfg.Faults.RetryAfter, "retry-after", 1, "seconds sent in Retry-After with throttled requests")
	fs.BoolVar(&cfg.Faults.ThrottleAs401, "throttle-as-401", false, "answer throttled requests with 401 and the body \"429 TOO MANY REQUESTS\" (SharePoint Online has done so) [unc]")
	fs.BoolVar(&cfg.Faults.NoRetryAfter, "throttle-no-retry-after", false, "send throttling answers without Retry-After [unc]")
	fs.BoolVar(&cfg.Faults.ThrottleJSON, "throttle-json", false, "send throttling answers with the JSON body activityLimitReached [unc]")
	fs.Float64Var(&cfg.Faults.FailRate, "fail-rate", 0, "fraction (0..1) of requests answered with a server error (500, 502 or 503 without Retry-After)")
	fs.IntVar(&cfg.Faults.FailStatus, "fail-status", 0, "status of injected failures (0: 500, 502 or 503 drawn at random)")
	fs.Float64Var(&cfg.Faults.DropRate, "drop-rate", 0, "fraction (0..1) of requests whose connection is cut mid-response (uploads: before anything is stored)")
	fs.Float64Var(&cfg.Faults.LostRate, "lost-rate", 0, "fraction (0..1) of requests carried out in full whose answer is then lost (the connection is cut before the status line), as when a gateway times out after the back end committed")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the fault generator: the same seed and request sequence give the same faults")
	fs.BoolVar(&cfg.OfficeMutation, "office-mutation", false, "rewrite uploaded .docx/.xlsx/.pptx (and other Office Open XML) files slightly after upload, so size and ETag change, as SharePoint does")
	fs.Func("rewrite-ext", "also rewrite uploads with these extensions after upload, comma-separated (\".jpg,.png\"; \"*\": every file); JPEGs gain 12 bytes", func(v string) error {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				cfg.RewriteExts = append(cfg.RewriteExts, e)
			}
		}
		return nil
	})
	fs.DurationVar(&cfg.RewriteDelay, "rewrite-delay", 0, "rewrite (--office-mutation, --rewrite-ext) this long after the upload was answered instead of before it")
	fs.Func("hostile", "answer wrongly on purpose, comma-separated: escaping-hrefs, duplicate-entries, huge-multistatus=SIZE, wrong-types, negative-sizes, far-dates, truncated-bodies, wrong-content-range, short-content-range, long-bodies (docs/spemu.md)", func(v string) error {
		return parseHostile(v, &cfg.Hostile)
	})
	fs.BoolVar(&cfg.PlainReasonPhrases, "plain-reason-phrases", false, "send Go's reason phrases (\"207 Multi-Status\") instead of SharePoint's upper-case ones (\"207 MULTI-STATUS\")")
	fs.BoolVar(&cfg.AllowInfiniteDepth, "allow-infinite-depth", false, "answer PROPFIND Depth: infinity instead of 403 propfind-finite-depth")
	fs.IntVar(&cfg.OverwriteStatus, "overwrite-status", 204, "status of a PUT that replaces a file: 204 or 200")
	fs.IntVar(&cfg.NameErrorStatus, "name-error-status", 400, "status for refused names and paths over 400 characters: 400, 403 or 409 (always with X-MSDAVEXT_Error)")
	fs.IntVar(&cfg.MaxFolderItems, "max-folder-items", 0, "fail PROPFIND Depth 1 on folders with more children than this with 503 (0: no cap)")
	fs.Var(sizeFlag{v: &cfg.QuotaBytes}, "quota", "report this quota (RFC 4331 quota-used-bytes/quota-available-bytes) in PROPFIND of the library root, e.g. 1T (0: none, as SharePoint seems to; uploads are never refused for it)")
	fs.IntVar(&cfg.RequestLogLimit, "request-log-memory", 10000, "request records kept in memory for the Go API (0: all); the --request-log file gets every record")
	o.logLevel = fs.String("log-level", "info", "log level on stderr: debug, info, warn or error")
	o.login = loginFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	return fs, o
}

// run is the whole command; it serves until stop delivers a signal.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	fs, o := newFlagSet(stderr)
	cfg := &o.cfg
	passwordFile, cookieFile, requestLog, logLevel, login := o.passwordFile, o.cookieFile, o.requestLog, o.logLevel, o.login
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "spemu: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "spemu: --log-level %q: %v\n", *logLevel, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger
	lc, err := login()
	if err != nil {
		fmt.Fprintf(stderr, "spemu: %v\n", err)
		return 2
	}
	if *passwordFile != "" {
		pw, err := readPasswordFile(*passwordFile)
		if err != nil {
			fmt.Fprintf(stderr, "spemu: %v\n", err)
			return 2
		}
		cfg.Password = pw
	}
	if *requestLog != "" {
		f, err := os.OpenFile(*requestLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "spemu: --request-log: %v\n", err)
			return 1
		}
		defer f.Close()
		cfg.RequestLog = f
	}
	srv, err := spemu.New(*cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	srv.SetLogin(lc)
	if err := srv.Start(); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		srv.Close()
		return 1
	}
	defer srv.Close()
	if *cookieFile != "" {
		if err := writeCookieFile(srv, *cookieFile); err != nil {
			logger.Error("spemu: --write-cookie-file failed", "file", *cookieFile, "err", err)
			return 1
		}
	}
	fmt.Fprintln(stdout, srv.LibraryURL())
	printLoginURLs(stdout, srv)
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}

	s := <-stop
	logger.Info("spemu: stopping", "signal", s.String())
	return 0
}

// readPasswordFile reads the first line of a file that only its owner can
// read (mode 0600 or stricter), as davfs2 does with its secrets file.
func readPasswordFile(name string) (string, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--password-file %s: mode %04o lets others read it; chmod 600 it", name, fi.Mode().Perm())
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("--password-file %s: empty", name)
	}
	return pw, nil
}

// writeCookieFile writes "FedAuth=…; rtFa=…" (mode 0600) when the server
// uses cookie auth; in the other modes there is no cookie and it writes
// nothing.
func writeCookieFile(srv *spemu.Server, name string) error {
	c, err := srv.IssueSessionCookie()
	if errors.Is(err, spemu.ErrNoCookie) {
		srv.Config().Logger.Info("spemu: no cookie file written: --auth is not cookie", "file", name)
		return nil
	}
	if err != nil {
		return err
	}
	tmp := name + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(c+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, name)
}

// parseHostile reads --hostile's comma-separated switch names.
func parseHostile(v string, h *spemu.Hostile) error {
	for _, sw := range strings.Split(v, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(sw), "=")
		switch name {
		case "":
		case "escaping-hrefs":
			h.EscapingHrefs = true
		case "duplicate-entries":
			h.DuplicateEntries = true
		case "huge-multistatus":
			n, err := units.ParseSize(val)
			if err != nil || n <= 0 {
				return fmt.Errorf("huge-multistatus=SIZE needs a size, got %q", val)
			}
			h.HugeMultistatus = n
		case "wrong-types":
			h.WrongTypes = true
		case "negative-sizes":
			h.NegativeSizes = true
		case "far-dates":
			h.FarDates = true
		case "truncated-bodies":
			h.TruncatedBodies = true
		case "wrong-content-range":
			h.WrongContentRange = true
		case "short-content-range":
			h.ShortContentRange = true
		case "long-bodies":
			h.LongBodies = true
		default:
			return fmt.Errorf("unknown hostile switch %q", name)
		}
	}
	return nil
}
