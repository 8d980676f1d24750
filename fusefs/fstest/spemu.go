package fstest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/spemu"
)

// StartSpemu starts an in-process spemu with cfg (anonymous unless
// cfg.Auth says otherwise, on cfg.Listen or a free loopback port) and
// closes it when the test ends. Files written into cfg.Root before the
// call are served as they are (write big fixtures there directly, not
// through HTTP). Stop it earlier with Close to play "server away"; start
// another on the same Listen address and Root to bring it back.
func StartSpemu(t testing.TB, cfg spemu.Config) *spemu.Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Auth == "" {
		cfg.Auth = "none"
	}
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	srv, err := spemu.New(cfg)
	if err != nil {
		t.Fatalf("spemu: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("spemu: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// DavClient returns a davclient for srv's library with a (nil: no)
// authenticator and quick retries, so that tests with the server stopped
// do not wait for production backoffs.
func DavClient(t testing.TB, libraryURL string, a auth.Authenticator) *davclient.Client {
	t.Helper()
	if a == nil {
		a = auth.None()
	}
	c, err := davclient.New(davclient.Options{
		URL: libraryURL, Auth: a, Logger: Logger(t, slog.LevelWarn),
		MaxRetries: 1, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		MaxRetryWait: time.Second,
	})
	if err != nil {
		t.Fatalf("davclient: %v", err)
	}
	return c
}

// MountSpemu starts spemu with cfg and mounts its library through
// davclient; fsCfg.Remote is filled in.
func MountSpemu(t testing.TB, cfg spemu.Config, fsCfg Config) (*Mounted, *spemu.Server) {
	t.Helper()
	srv := StartSpemu(t, cfg)
	fsCfg.Remote = DavClient(t, srv.LibraryURL(), nil)
	if fsCfg.Library == "" {
		fsCfg.Library = srv.LibraryURL()
	}
	return Mount(t, fsCfg), srv
}
