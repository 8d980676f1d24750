package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/odfb/odfb/cache"
	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/internal/exitcodes"
	"github.com/odfb/odfb/internal/liburl"
	"github.com/odfb/odfb/internal/metrics"
	"github.com/odfb/odfb/internal/version"
	"github.com/odfb/odfb/remote"
)

// libSpec is one library to mount: its URL and, in a mount of several,
// its folder name.
type libSpec struct {
	name, url string
	from      string // where it was given, for errors ("--libraries F line 3")
	// site: url is a SharePoint site, to be replaced by its document
	// libraries (expandSites); title: the library's title from there.
	site  bool
	title string
	// failCode and failErr: a site whose libraries could not be listed,
	// shown as a failed folder.
	failCode int
	failErr  error
}

// normalize checks the URL and turns a browser address into the
// library's URL (internal/liburl).
func (sp *libSpec) normalize(log *slog.Logger) error {
	where := ""
	if sp.from != "" {
		where = sp.from + ": "
	}
	u, err := neturl.Parse(sp.url)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%sURL %q is not an https://host/… library URL", where, sp.url)
	}
	if u.User != nil {
		return fmt.Errorf("%sthe URL carries credentials; use --username and --password-file instead (argv is visible to every user)", where)
	}
	norm, err := liburl.Normalize(sp.url)
	switch {
	case err != nil:
		return fmt.Errorf("%s%v", where, err)
	case norm.Kind == liburl.Site:
		log.Info("a site: mounting its document libraries", "site", norm.URL)
		sp.url, sp.site = norm.URL, true
	case norm.Changed:
		log.Info("mounting the library the address given points into", "library", norm.URL)
		sp.url = norm.URL
	}
	return nil
}

// nameLibraries gives the libraries given as URLs their folder names:
// the library's own (last path segment), or, when two share it, the
// site's name before it ("team Documents"). Names from a --libraries
// file are kept; any two alike are an error.
func nameLibraries(specs []libSpec) error {
	seg := func(u string, fromEnd int) string {
		p, _ := neturl.Parse(u)
		parts := strings.Split(strings.Trim(p.Path, "/"), "/")
		if len(parts) < fromEnd {
			return p.Host
		}
		return parts[len(parts)-fromEnd]
	}
	count := map[string]int{}
	base := func(sp libSpec) string {
		if sp.title != "" {
			return sp.title
		}
		return seg(sp.url, 1)
	}
	for _, sp := range specs {
		if sp.name == "" {
			count[strings.ToLower(base(sp))]++
		}
	}
	for i, sp := range specs {
		if sp.name != "" {
			continue
		}
		specs[i].name = base(sp)
		if count[strings.ToLower(specs[i].name)] > 1 {
			specs[i].name = seg(sp.url, 2) + " " + base(sp)
		}
	}
	seen := map[string]string{}
	for _, sp := range specs {
		k := strings.ToLower(sp.name)
		if other, dup := seen[k]; dup {
			return fmt.Errorf("two libraries would both be the folder %q (%s and %s): name them in a --libraries file", sp.name, other, sp.url)
		}
		seen[k] = sp.url
		if sp.name == "." || sp.name == ".." || strings.ContainsAny(sp.name, "/\x00") || len(sp.name) > 255 {
			return fmt.Errorf("%q cannot be a folder name", sp.name)
		}
	}
	return nil
}

// readLibrariesFile reads --libraries: "name = URL" a line, blank lines
// and # comments skipped. Like a config= file it must be yours (or
// root's) and writable by no one else.
func readLibrariesFile(path string) ([]libSpec, error) {
	opts, err := readHelperConfig(path) // the same checks and line syntax
	if err != nil {
		return nil, err
	}
	var out []libSpec
	for _, o := range opts {
		if !o.hasValue || o.name == "" || o.value == "" {
			return nil, fmt.Errorf("%s: want name = URL", o.from)
		}
		out = append(out, libSpec{name: o.name, url: o.value, from: o.from})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no libraries", path)
	}
	return out, nil
}

// libOpener opens the libraries of a mount: one authenticator per host
// (one sign-in, one cookie), a client, cache and write side per library.
type libOpener struct {
	af           *authFlags
	log          *slog.Logger
	maxConc      int
	pollInterval time.Duration
	cacheDir     string
	multi        bool
	dirCacheTime time.Duration
	cacheSize    int64
	readOnly     bool
	writes       cache.WriteOptions
	reg          *metrics.Registry

	auths map[string]auth.Authenticator
}

// openedLib is an opened library, or why it could not be.
type openedLib struct {
	spec    libSpec
	showURL string
	dir     string
	c       *cache.Cache
	met     *metrics.Library
	prefix  int
	code    int // exit code for err
	err     error
}

func (l *openedLib) onRead() func(bool, int) {
	if l.met == nil {
		return nil
	}
	return l.met.Read
}

// authFor returns the authenticator of url's host, made at its first use:
// one sign-in per host.
func (o *libOpener) authFor(ctx context.Context, rawURL string) (auth.Authenticator, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	host := u.Scheme + "://" + strings.ToLower(u.Host)
	if o.auths == nil {
		o.auths = map[string]auth.Authenticator{}
	}
	if a := o.auths[host]; a != nil {
		return a, nil
	}
	a, err := o.af.authenticator(ctx, rawURL, o.log)
	if err != nil {
		return nil, err
	}
	o.auths[host] = a
	o.log.Debug("authentication", "host", host, "strategy", a.String())
	return a, nil
}

// expandSites replaces each site by its document libraries (SharePoint
// REST: the site's lists of the document library template). A site
// whose lists cannot be read stays as a failed folder.
func (o *libOpener) expandSites(ctx context.Context, specs []libSpec) []libSpec {
	var out []libSpec
	for _, sp := range specs {
		if !sp.site {
			out = append(out, sp)
			continue
		}
		libs, code, err := o.siteLibraries(ctx, sp.url)
		if err != nil {
			sp.failCode, sp.failErr = code, err
			out = append(out, sp)
			continue
		}
		for _, l := range libs {
			out = append(out, libSpec{url: l.URL, title: l.Title, from: sp.url})
			o.log.Info("library of the site", "site", sp.url, "library", l.Title, "url", l.URL)
		}
	}
	return out
}

func (o *libOpener) siteLibraries(ctx context.Context, site string) ([]davclient.DocumentLibrary, int, error) {
	a, err := o.authFor(ctx, site)
	if err != nil {
		return nil, exitcodes.Auth, fmt.Errorf("authentication: %v", err)
	}
	c, err := davclient.New(davclient.Options{URL: site, WebURL: site, Auth: a, CAFile: *o.af.caFile,
		MaxConcurrent: o.maxConc, Logger: o.log, UserAgent: version.UserAgent()})
	if err != nil {
		return nil, exitcodes.Usage, err
	}
	libs, err := c.DocumentLibraries(ctx)
	switch {
	case errors.Is(err, remote.ErrAuth), errors.Is(err, remote.ErrForbidden):
		return nil, exitcodes.Auth, fmt.Errorf("%s refused to list its libraries (%s): %v", site, a.String(), err)
	case err != nil:
		return nil, exitcodes.Server, fmt.Errorf("cannot list the document libraries of the site %s: %v", site, err)
	case len(libs) == 0:
		return nil, exitcodes.Server, fmt.Errorf("the site %s has no document library you can see", site)
	}
	return libs, 0, nil
}

// open opens one library; failures come back in the result.
func (o *libOpener) open(ctx context.Context, sp libSpec) *openedLib {
	u, _ := neturl.Parse(sp.url)
	l := &openedLib{spec: sp, showURL: u.Redacted()}
	if sp.failErr != nil {
		l.code, l.err = sp.failCode, sp.failErr
		return l
	}
	failed := func(code int, format string, a ...any) *openedLib {
		if l.c != nil {
			l.c.Close()
			l.c = nil
		}
		l.code, l.err = code, fmt.Errorf(format, a...)
		return l
	}
	a, err := o.authFor(ctx, sp.url)
	if err != nil {
		return failed(exitcodes.Auth, "authentication: %v", err)
	}
	log := o.log
	if o.multi {
		log = o.log.With("library", sp.name)
	}
	dopts := davclient.Options{URL: sp.url, Auth: a, CAFile: *o.af.caFile, MaxConcurrent: o.maxConc,
		Logger: log, UserAgent: version.UserAgent()}
	if o.reg != nil {
		label := l.showURL
		if o.multi {
			label = sp.name
		}
		l.met = o.reg.Library(label)
		dopts.Auth, dopts.WrapTransport, dopts.OnThrottle = l.met.Authenticator(a), l.met.Transport, l.met.Throttled
	}
	client, err := davclient.New(dopts)
	if err != nil {
		return failed(exitcodes.Usage, "%v", err)
	}
	l.dir = cache.DefaultDir(sp.url)
	if o.cacheDir != "" {
		l.dir = o.cacheDir
		if o.multi {
			l.dir = filepath.Join(o.cacheDir, filepath.Base(cache.DefaultDir(sp.url)))
		}
	}
	c, err := cache.Open(cache.Options{Dir: l.dir, Library: strings.TrimRight(sp.url, "/"), Remote: client,
		DirCacheTime: o.dirCacheTime, CacheSize: o.cacheSize, Logger: log, MaxConcurrent: o.maxConc,
		PollInterval: o.pollInterval, ListAhead: o.maxConc})
	if err != nil {
		return failed(exitcodes.CacheDir, "cache %s: %v", l.dir, err)
	}
	l.c = c
	if !o.readOnly {
		if err := c.StartWrites(o.writes); err != nil {
			return failed(exitcodes.CacheDir, "cache %s: %v", l.dir, err)
		}
	}
	// One look at the library root before mounting: a wrong URL or
	// refused credentials fail here with a clear message rather than as
	// EIO later. A root listing from an earlier mount answers at once
	// (and is revalidated in the background), so a server that is away
	// does not stop a warm mount.
	if _, err := c.Stat(ctx, "/"); err != nil {
		switch {
		case errors.Is(err, remote.ErrAuth), errors.Is(err, remote.ErrForbidden):
			return failed(exitcodes.Auth, "%s refused the credentials (%s): %v", l.showURL, a.String(), err)
		case errors.Is(err, remote.ErrNotFound), errors.Is(err, remote.ErrNotDir):
			return failed(exitcodes.Server, "%s is not a library or folder: %v", l.showURL, err)
		case errors.Is(err, context.Canceled):
			return failed(exitcodes.Other, "interrupted: %w", err)
		default:
			return failed(exitcodes.Server, "cannot list %s and nothing is cached: %v", l.showURL, err)
		}
	}
	if l.met != nil {
		l.met.SetSnapshot(func() metrics.Snapshot { return snapshotOf(c.Status()) })
	}
	l.prefix = utf8.RuneCountInString(strings.TrimRight(u.Path, "/"))
	if p, err := neturl.PathUnescape(strings.TrimRight(u.EscapedPath(), "/")); err == nil {
		l.prefix = utf8.RuneCountInString(p)
	}
	return l
}

// controlHandler answers odfb sync, status and unmount. In a mount of
// several libraries, sync waits for all of them and status merges
// theirs, each path under its library's folder.
type controlHandler struct {
	libs    []*openedLib
	multi   bool
	unmount func() error
}

func (h controlHandler) Sync(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(h.libs))
	for i, l := range h.libs {
		if l.c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.c.Sync(ctx); err != nil && h.multi {
				errs[i] = fmt.Errorf("%s: %w", l.spec.name, err)
			} else {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h controlHandler) Status() any {
	if !h.multi {
		return h.libs[0].c.Status()
	}
	var st cache.Status
	var authErrs []string
	for _, l := range h.libs {
		if l.c == nil {
			authErrs = append(authErrs, l.spec.name+": not mounted: "+l.err.Error())
			continue
		}
		s := l.c.Status()
		in := func(p string) string { return "/" + l.spec.name + p }
		for _, q := range s.Queue {
			q.Path = in(q.Path)
			st.Queue = append(st.Queue, q)
		}
		for _, x := range s.LostFound {
			x.Path = in(x.Path)
			st.LostFound = append(st.LostFound, x)
		}
		for _, x := range s.Conflicts {
			x.Path, x.Copy = in(x.Path), in(x.Copy)
			st.Conflicts = append(st.Conflicts, x)
		}
		if s.AuthError != "" {
			authErrs = append(authErrs, l.spec.name+": "+s.AuthError)
		}
		st.Offline = st.Offline || s.Offline
		st.ContentBytes += s.ContentBytes
		st.StagingBytes += s.StagingBytes
		st.Now = s.Now
		if st.CacheDir == "" {
			st.CacheDir = filepath.Dir(s.CacheDir)
		}
	}
	st.AuthError = strings.Join(authErrs, "; ")
	sort.Slice(st.Queue, func(i, j int) bool { return st.Queue[i].Path < st.Queue[j].Path })
	return st
}

func (h controlHandler) Unmount() error { return h.unmount() }
