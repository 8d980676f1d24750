package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	neturl "net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/version"
	"github.com/odfb/odfb/remote"
)

const mountUsage = `usage: odfb mount [options] URL MOUNTPOINT

Mounts the document library at URL on MOUNTPOINT and stays in the
foreground until the filesystem is unmounted (umount MOUNTPOINT,
fusermount3 -u MOUNTPOINT, Ctrl-C or SIGTERM). It logs
"mounted URL at MOUNTPOINT" once the filesystem is ready and odfb
status/sync/unmount can reach it.

Listings are cached for --dir-cache-time and kept across mounts in
--cache-dir (meta.db); file content is cached there too (content/), up to
--cache-size. With the server unreachable, what is cached is served.
On SharePoint, the library's change log is asked every --poll-interval
(one request for the whole library) and when listings expire: only the
folders it names are listed again, so other clients' changes show within
one poll. Without a change log (plain WebDAV servers) each folder is
revalidated after --dir-cache-time (docs/mount.md).

Writes land in staging files under --cache-dir; close() and fsync()
return once the data is fsynced and journaled there (with --sync-upload,
once it is on the server). --write-back after the last close the file is
uploaded: one PUT up to --put-limit, SharePoint's chunked REST upload
above it. Failed uploads are retried and never dropped; "odfb sync
MOUNTPOINT" waits for the queue, "odfb status MOUNTPOINT" shows it.
Unmounting (umount, SIGTERM, odfb unmount) uploads what is queued first,
for up to --drain-timeout; what is left resumes at the next mount.

With --daemon, odfb mount returns once the filesystem is ready (exit 0)
and serves it in the background, logging to --log-file; if the mount
fails it exits with the code and error it would have in the foreground.
Under systemd run it in the foreground (Type=notify: it sends READY=1).
Installed as mount.odfb it serves mount -t odfb and /etc/fstab
(docs/mount.md).

options (flags may come before or after URL and MOUNTPOINT):
`

// cmdMount implements `odfb mount`.
func cmdMount(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mountUsage); fs.PrintDefaults() }
	af := addAuthFlags(fs)
	cacheDir := fs.String("cache-dir", "", "cache directory (default $XDG_CACHE_HOME/odfb/<hash of URL>, ~/.cache/odfb/…, or /var/cache/odfb/… for root without a home)")
	dirCacheTime := fs.Duration("dir-cache-time", cache.DefaultDirCacheTime, "how long a folder listing is trusted before the server is asked again")
	pollInterval := fs.Duration("poll-interval", cache.DefaultPollInterval, "how often the library's change log is asked what other clients changed (one request per poll; 0: only when listings expire)")
	cacheSize := sizeFlag(cache.DefaultCacheSize)
	fs.Var(&cacheSize, "cache-size", "bound of the content cache (like 512M, 10G); open files are never evicted")
	readOnly := fs.Bool("read-only", false, "mount read-only (ro)")
	allowOther := fs.Bool("allow-other", false, "let other users access the mount (non-root needs user_allow_other in /etc/fuse.conf)")
	var uid, gid idFlag
	fs.Var(&uid, "uid", "owner shown for every file (default: the mounting user)")
	fs.Var(&gid, "gid", "group shown for every file (default: the mounting user's group)")
	umask := octalFlag{v: 0o022}
	fs.Var(&umask, "umask", "permission bits to clear: files 0666&^umask, folders 0777&^umask")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	debugFUSE := fs.Bool("debug-fuse", false, "log every FUSE request (very verbose)")
	maxConc := fs.Int("max-concurrent", 8, "requests in flight to the server at most")
	writeBack := fs.Duration("write-back", cache.DefaultWriteBack, "wait this long after the last close before uploading a file")
	transfers := fs.Int("transfers", cache.DefaultTransfers, "uploads running at the same time at most")
	putLimit := sizeFlag(cache.DefaultPutLimit)
	fs.Var(&putLimit, "put-limit", "largest file sent in one PUT (like 100M); larger files use the chunked REST upload")
	chunkSize := sizeFlag(cache.DefaultChunkSize)
	fs.Var(&chunkSize, "chunk-size", "piece size of chunked uploads (like 10M)")
	syncUpload := fs.Bool("sync-upload", false, "close() and fsync() wait for the upload and return its error")
	drainTimeout := fs.Duration("drain-timeout", cache.DefaultDrainTimeout, "at unmount, how long to keep uploading what is queued before exiting")
	df := addDaemonFlags(fs) // --daemon, --log-file: daemon.go

	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcodes.OK
		}
		return exitcodes.Usage
	}
	if len(pos) != 2 {
		fs.Usage()
		return exitcodes.Usage
	}
	rawURL, mnt := pos[0], pos[1]
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "odfb mount: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return exitcodes.Usage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	fail := func(code int, format string, a ...any) int {
		log.Error(fmt.Sprintf(format, a...))
		df.failed(fmt.Sprintf(format, a...))
		return code
	}

	u, err := neturl.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fail(exitcodes.Usage, "URL %q is not an https://host/… library URL", rawURL)
	}
	if u.User != nil {
		return fail(exitcodes.Usage, "the URL carries credentials; use --username and --password-file instead (argv is visible to every user)")
	}
	showURL := u.Redacted()
	if mnt, err = filepath.Abs(mnt); err != nil {
		return fail(exitcodes.Usage, "mountpoint: %v", err)
	}
	if st, err := os.Stat(mnt); err != nil || !st.IsDir() {
		if errors.Is(err, syscall.ENOTCONN) {
			return fail(exitcodes.Mount, "mountpoint %s is a dead mount (an earlier odfb was killed); clear it with: fusermount3 -uz %s", mnt, mnt)
		}
		return fail(exitcodes.Mount, "mountpoint %s is not a directory", mnt)
	}
	if code, exit := df.start(fs, args, *cacheDir, rawURL, stderr); exit {
		return code
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// sigs also keeps a signal that arrives while mounting (after the
	// last use of ctx): the loop below then unmounts at once instead of
	// the signal being lost.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	a, err := af.authenticator(ctx, rawURL, log)
	if err != nil {
		return fail(exitcodes.Auth, "authentication: %v", err)
	}
	log.Debug("authentication", "strategy", a.String())
	client, err := davclient.New(davclient.Options{URL: rawURL, Auth: a, CAFile: *af.caFile, MaxConcurrent: *maxConc,
		Logger: log, UserAgent: version.UserAgent()})
	if err != nil {
		return fail(exitcodes.Usage, "%v", err)
	}
	dir := *cacheDir
	if dir == "" {
		dir = cache.DefaultDir(rawURL)
	}
	c, err := cache.Open(cache.Options{Dir: dir, Library: strings.TrimRight(rawURL, "/"), Remote: client,
		DirCacheTime: *dirCacheTime, CacheSize: int64(cacheSize), Logger: log, PollInterval: *pollInterval,
		ListAhead: *maxConc})
	if err != nil {
		return fail(exitcodes.CacheDir, "cache %s: %v", dir, err)
	}
	defer c.Close()
	if !*readOnly {
		if err := c.StartWrites(cache.WriteOptions{WriteBack: *writeBack, Transfers: *transfers,
			PutLimit: int64(putLimit), ChunkSize: int64(chunkSize), SyncUpload: *syncUpload,
			DrainTimeout: *drainTimeout}); err != nil {
			return fail(exitcodes.CacheDir, "cache %s: %v", dir, err)
		}
	}

	// One look at the library root before mounting: a wrong URL or refused
	// credentials fail here with a clear message rather than as EIO later.
	// A root listing from an earlier mount answers at once (and is
	// revalidated in the background), so a server that is away does not
	// stop a warm mount.
	if _, err := c.Stat(ctx, "/"); err != nil {
		switch {
		case errors.Is(err, remote.ErrAuth), errors.Is(err, remote.ErrForbidden):
			return fail(exitcodes.Auth, "%s refused the credentials (%s): %v", showURL, a.String(), err)
		case errors.Is(err, remote.ErrNotFound), errors.Is(err, remote.ErrNotDir):
			return fail(exitcodes.Server, "%s is not a library or folder: %v", showURL, err)
		case errors.Is(err, context.Canceled):
			return fail(exitcodes.Other, "interrupted")
		default:
			return fail(exitcodes.Server, "cannot list %s and nothing is cached: %v", showURL, err)
		}
	}

	prefix := utf8.RuneCountInString(strings.TrimRight(u.Path, "/"))
	if p, err := neturl.PathUnescape(strings.TrimRight(u.EscapedPath(), "/")); err == nil {
		prefix = utf8.RuneCountInString(p)
	}
	srv, err := fusefs.Mount(mnt, c, fusefs.Options{
		UID: uid.v, GID: gid.v, Umask: umask.v, UmaskSet: true, AllowOther: *allowOther,
		ReadOnly: *readOnly, PrefixChars: prefix, Logger: log, Debug: *debugFUSE,
	})
	if err != nil {
		return fail(exitcodes.Mount, "mount %s: %v", mnt, err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	// The control socket answers before the readiness line is logged: a
	// script that waits for the line may run odfb status or sync at once.
	ctl, err := control.Listen(mnt, controlHandler{c: c, unmount: func() error { go srv.Unmount(); return nil }}, log)
	if err != nil {
		log.Warn("no control socket: odfb sync, status and unmount will not reach this mount", "err", err)
	}
	log.Info(fmt.Sprintf("mounted %s at %s", showURL, mnt), "cache", dir)
	df.isReady()
	if err := sdNotify("READY=1"); err != nil {
		log.Warn("sd_notify READY=1", "err", err)
	}
	// At exit: drain the upload queue (the socket stays up meanwhile, for
	// odfb status), then stop answering.
	finish := func() int {
		left := c.CloseWrites()
		if ctl != nil {
			ctl.Close()
		}
		if left > 0 {
			return exitcodes.Pending
		}
		return exitcodes.OK
	}
	for {
		select {
		case <-done:
			sdNotify("STOPPING=1")
			log.Info("unmounted " + mnt)
			return finish()
		case s := <-sigs:
			sdNotify("STOPPING=1")
			log.Info("unmounting", "signal", s.String(), "mountpoint", mnt)
			if err := srv.Unmount(); err != nil {
				log.Warn("unmount failed (is the mountpoint busy?); send the signal again to detach it lazily", "mountpoint", mnt, "err", err)
				select {
				case <-done:
				case <-sigs:
					lazyUnmount(mnt, log)
				case <-time.After(time.Minute):
				}
			}
		}
	}
}

// lazyUnmount detaches a busy mount (it disappears once no longer used).
func lazyUnmount(mnt string, log *slog.Logger) {
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		log.Warn("lazy unmount failed; run fusermount3 -uz", "mountpoint", mnt, "err", err)
	}
}

// controlHandler answers odfb sync, status and unmount.
type controlHandler struct {
	c       *cache.Cache
	unmount func() error
}

func (h controlHandler) Sync(ctx context.Context) error { return h.c.Sync(ctx) }
func (h controlHandler) Status() any                    { return h.c.Status() }
func (h controlHandler) Unmount() error                 { return h.unmount() }
