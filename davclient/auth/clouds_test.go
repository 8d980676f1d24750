package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"

	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/spemu"
	"github.com/odfb/odfb/spemu/spemutest"
)

func TestAuthorityFor(t *testing.T) {
	for host, want := range map[string]string{
		"https://contoso.sharepoint.com/sites/x":        auth.DefaultAuthority,
		"https://contoso-my.sharepoint.com/personal/a":  auth.DefaultAuthority,
		"https://contoso.sharepoint.us/sites/x":         auth.AuthorityUSGov,
		"https://contoso-my.sharepoint.us/personal/a":   auth.AuthorityUSGov,
		"https://contoso.sharepoint-mil.us/sites/x":     auth.AuthorityUSGov,
		"https://contoso.sharepoint.cn/sites/x":         auth.AuthorityChina,
		"https://contoso-my.sharepoint.cn:443/personal": auth.AuthorityChina,
		"https://notsharepoint.us/x":                    auth.DefaultAuthority,
		"https://dav.example.org/remote.php/webdav":     auth.DefaultAuthority,
	} {
		if got := auth.AuthorityFor(host); got != want {
			t.Errorf("AuthorityFor(%s) = %s, want %s", host, got, want)
		}
	}
}

// cloudTransport sends every request to spemu's listener, whatever host
// it names (the host stays in the Host header), and records the hosts.
type cloudTransport struct {
	to    *url.URL
	mu    sync.Mutex
	hosts map[string]int
}

func (c *cloudTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.hosts[r.URL.Host]++
	c.mu.Unlock()
	r2 := r.Clone(r.Context())
	r2.Host = r.URL.Host
	r2.URL.Scheme, r2.URL.Host = c.to.Scheme, c.to.Host
	return http.DefaultTransport.RoundTrip(r2)
}

func (c *cloudTransport) count(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[host]
}

// TestNationalCloudAuthority serves spemu as a SharePoint library in each
// cloud and signs in without --authority: the device code and token
// requests go to that cloud's authority, the login stores it, and the
// mount works. With --authority given, that one is used.
func TestNationalCloudAuthority(t *testing.T) {
	for _, c := range []struct{ site, authority, wantHost string }{
		{"https://contoso.sharepoint.us", "", "login.microsoftonline.us"},
		{"https://contoso.sharepoint-mil.us", "", "login.microsoftonline.us"},
		{"https://contoso.sharepoint.cn", "", "login.chinacloudapi.cn"},
		{"https://contoso.sharepoint.com", "", "login.microsoftonline.com"},
		{"https://contoso.sharepoint.us", "https://login.example.test", "login.example.test"},
	} {
		t.Run(c.site+" "+c.authority, func(t *testing.T) {
			srv := spemutest.Start(t, spemu.Config{Auth: "cookie", PublicURL: c.site})
			srv.SetLogin(spemu.LoginConfig{OAuthAutoApprove: 1})
			to, _ := url.Parse(srv.URL())
			tr := &cloudTransport{to: to, hosts: map[string]int{}}
			hc := &http.Client{Transport: tr}
			cfg := auth.OAuthConfig{SiteURL: srv.LibraryURL(), Authority: c.authority,
				Credentials: filepath.Join(t.TempDir(), "credentials.json"), HTTPClient: hc}
			ctx := context.Background()
			if _, err := auth.DeviceLogin(ctx, cfg, func(auth.DeviceCode) {}); err != nil {
				t.Fatalf("login: %v", err)
			}
			if n := tr.count(c.wantHost); n < 2 {
				t.Errorf("%d requests to %s (want the device code and the token); hosts %v", n, c.wantHost, tr.hosts)
			}
			a, err := auth.NewOAuth(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := davclient.New(davclient.Options{URL: srv.LibraryURL(), Auth: a, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := cl.List(ctx, "/"); err != nil {
				t.Fatalf("listing: %v", err)
			}
		})
	}
}
