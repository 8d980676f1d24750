package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/fusefs"
	"github.com/odfb/odfb/internal/control"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/metrics"
)

const mountUsage = `usage: odfb mount [options] URL [URL…] MOUNTPOINT
       odfb mount [options] --libraries FILE MOUNTPOINT

Mounts the document library at URL on MOUNTPOINT and stays in the
foreground until the filesystem is unmounted (umount MOUNTPOINT,
fusermount3 -u MOUNTPOINT, Ctrl-C or SIGTERM). It logs
"mounted URL at MOUNTPOINT" once the filesystem is ready and odfb
status/sync/unmount can reach it.

Several URLs (or --libraries FILE) mount several libraries, each as a
folder of MOUNTPOINT named after it (or as FILE names it); one sign-in
per host serves them all, each keeps its own cache, and a library that
cannot be opened shows its error in its folder while the others work.
A site's URL mounts the site's document libraries, each a folder. A URL
may be copied from the browser (a library view, onedrive.aspx?id=, a
/:f:/r/ sharing link): odfb mounts the library it points into.

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
	fs := newFlagSet("mount", mountUsage, stderr)
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
	passthrough := fs.String("passthrough", fusefs.PassthroughAuto, "when the kernel reads fully cached files straight from the cache (FUSE passthrough, Linux 6.9+, root): auto (read-only mounts), on (any mount; an open for writing next to such a reader fails with ETXTBSY) or off; otherwise the page cache is kept across opens")
	maxConc := fs.Int("max-concurrent", 8, "requests in flight to the server at most")
	writeBack := fs.Duration("write-back", cache.DefaultWriteBack, "wait this long after the last close before uploading a file")
	transfers := fs.Int("transfers", cache.DefaultTransfers, "uploads running at the same time at most")
	putLimit := sizeFlag(cache.DefaultPutLimit)
	fs.Var(&putLimit, "put-limit", "largest file sent in one PUT (like 100M); larger files use the chunked REST upload")
	chunkSize := sizeFlag(cache.DefaultChunkSize)
	fs.Var(&chunkSize, "chunk-size", "piece size of chunked uploads (like 10M)")
	syncUpload := fs.Bool("sync-upload", false, "close() and fsync() wait for the upload and return its error")
	drainTimeout := fs.Duration("drain-timeout", cache.DefaultDrainTimeout, "at unmount, how long to keep uploading what is queued before exiting")
	libsFile := fs.String("libraries", "", "mount several libraries, one folder each: FILE has one \"name = URL\" a line (# comments); then give only MOUNTPOINT")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics: PORT or :PORT listens on loopback only, HOST:PORT as given (off unless set)")
	df := addDaemonFlags(fs) // --daemon, --log-file: daemon.go

	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitcodes.OK
		}
		return exitcodes.Usage
	}
	var specs []libSpec
	var mnt string
	switch {
	case *libsFile != "" && len(pos) == 1:
		mnt = pos[0]
	case *libsFile == "" && len(pos) >= 2:
		mnt = pos[len(pos)-1]
	default:
		fs.Usage()
		return exitcodes.Usage
	}
	if !fusefs.ValidPassthrough(*passthrough) {
		fmt.Fprintf(stderr, "odfb mount: --passthrough %q: want auto, on or off\n", *passthrough)
		return exitcodes.Usage
	}
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
	if *libsFile != "" {
		if specs, err = readLibrariesFile(*libsFile); err != nil {
			return fail(exitcodes.Usage, "--libraries: %v", err)
		}
	} else {
		for _, u := range pos[:len(pos)-1] {
			specs = append(specs, libSpec{url: u})
		}
	}
	multi := len(specs) > 1 || *libsFile != ""
	for i := range specs {
		if err := specs[i].normalize(log); err != nil {
			return fail(exitcodes.Usage, "%v", err)
		}
		multi = multi || specs[i].site // a site: its libraries as folders
	}
	if multi {
		if err := nameLibraries(specs); err != nil {
			return fail(exitcodes.Usage, "%v", err)
		}
	}
	if mnt, err = filepath.Abs(mnt); err != nil {
		return fail(exitcodes.Usage, "mountpoint: %v", err)
	}
	if st, err := os.Stat(mnt); err != nil || !st.IsDir() {
		if errors.Is(err, syscall.ENOTCONN) {
			return fail(exitcodes.Mount, "mountpoint %s is a dead mount (an earlier odfb was killed); clear it with: fusermount3 -uz %s", mnt, mnt)
		}
		return fail(exitcodes.Mount, "mountpoint %s is not a directory", mnt)
	}
	if *metricsAddr != "" {
		if _, err := metrics.ListenAddr(*metricsAddr); err != nil {
			return fail(exitcodes.Usage, "--metrics-addr %q: %v", *metricsAddr, err)
		}
	}
	if code, exit := df.start(fs, args, *cacheDir, specs[0].url, stderr); exit {
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

	o := &libOpener{af: af, log: log, maxConc: *maxConc, cacheDir: *cacheDir, multi: multi,
		dirCacheTime: *dirCacheTime, cacheSize: int64(cacheSize), readOnly: *readOnly, pollInterval: *pollInterval,
		writes: cache.WriteOptions{WriteBack: *writeBack, Transfers: *transfers, PutLimit: int64(putLimit),
			ChunkSize: int64(chunkSize), SyncUpload: *syncUpload, DrainTimeout: *drainTimeout}}
	if *metricsAddr != "" {
		o.reg = metrics.New()
	}
	if specs = o.expandSites(ctx, specs); nameLibraries(specs) != nil {
		return fail(exitcodes.Usage, "%v", nameLibraries(specs))
	}
	var libs []*openedLib
	defer func() {
		for _, l := range libs {
			if l.c != nil {
				l.c.Close()
			}
		}
	}()
	working := 0
	for _, sp := range specs {
		l := o.open(ctx, sp)
		libs = append(libs, l)
		switch {
		case l.err == nil:
			working++
		case !multi || errors.Is(l.err, context.Canceled):
			return fail(l.code, "%v", l.err)
		default:
			log.Error("library not mounted; its folder shows the error", "library", sp.name, "err", l.err)
		}
	}
	if working == 0 {
		return fail(libs[0].code, "no library could be mounted: %v", libs[0].err)
	}
	if o.reg != nil {
		addr, stopMetrics, err := o.reg.Serve(*metricsAddr, log)
		if err != nil {
			return fail(exitcodes.Other, "--metrics-addr %s: %v", *metricsAddr, err)
		}
		defer stopMetrics()
		log.Info("metrics at http://" + addr + "/metrics")
	}

	fopts := fusefs.Options{UID: uid.v, GID: gid.v, Umask: umask.v, UmaskSet: true, AllowOther: *allowOther,
		ReadOnly: *readOnly, Logger: log, Debug: *debugFUSE, Passthrough: *passthrough}
	var srv *fuse.Server
	if multi {
		var fl []fusefs.Library
		for _, l := range libs {
			fl = append(fl, fusefs.Library{Name: l.spec.name, Cache: l.c, Err: l.err, PrefixChars: l.prefix, OnRead: l.onRead()})
		}
		srv, err = fusefs.MountLibraries(mnt, fl, fopts)
	} else {
		fopts.PrefixChars, fopts.OnRead = libs[0].prefix, libs[0].onRead()
		srv, err = fusefs.Mount(mnt, libs[0].c, fopts)
	}
	if err != nil {
		return fail(exitcodes.Mount, "mount %s: %v", mnt, err)
	}
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	// The control socket answers before the readiness line is logged: a
	// script that waits for the line may run odfb status or sync at once.
	h := controlHandler{libs: libs, multi: multi, unmount: func() error { go srv.Unmount(); return nil }}
	ctl, err := control.Listen(mnt, h, log)
	if err != nil {
		log.Warn("no control socket: odfb sync, status and unmount will not reach this mount", "err", err)
	}
	if multi {
		log.Info(fmt.Sprintf("mounted %d libraries at %s", working, mnt))
	} else {
		log.Info(fmt.Sprintf("mounted %s at %s", libs[0].showURL, mnt), "cache", libs[0].dir)
	}
	df.isReady()
	if err := sdNotify("READY=1"); err != nil {
		log.Warn("sd_notify READY=1", "err", err)
	}
	// At exit: drain the upload queues (the socket stays up meanwhile,
	// for odfb status), then stop answering.
	finish := func() int {
		left := 0
		for _, l := range libs {
			if l.c != nil {
				left += l.c.CloseWrites()
			}
		}
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
