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
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/version"
	"github.com/odfb/odfb/remote"
)

const mountUsage = `usage: odfb mount [options] URL MOUNTPOINT

Mounts the document library at URL on MOUNTPOINT and stays in the
foreground until the filesystem is unmounted (umount MOUNTPOINT,
fusermount3 -u MOUNTPOINT, Ctrl-C or SIGTERM). It logs
"mounted URL at MOUNTPOINT" once the filesystem is ready.

Listings are cached for --dir-cache-time and kept across mounts in
--cache-dir (meta.db); file content is cached there too (content/), up to
--cache-size. With the server unreachable, what is cached is served.

Writing is not implemented yet: the filesystem is read-only (EROFS).

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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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
		DirCacheTime: *dirCacheTime, CacheSize: int64(cacheSize), Logger: log})
	if err != nil {
		return fail(exitcodes.CacheDir, "cache %s: %v", dir, err)
	}
	defer c.Close()

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
	log.Info(fmt.Sprintf("mounted %s at %s", showURL, mnt), "cache", dir)

	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	for {
		select {
		case <-done:
			log.Info("unmounted " + mnt)
			return exitcodes.OK
		case s := <-sigs:
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
