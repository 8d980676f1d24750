package auth

import (
	"net/url"
	"strings"
)

// National clouds: a library's host says which Entra ID instance signs
// its users in (Microsoft's "national cloud deployments" [doc]; the host
// suffixes as rclone and gosip map them [obs], reference §1.1).
//
//	*.sharepoint.us, *.sharepoint-mil.us → https://login.microsoftonline.us (GCC High, DoD)
//	*.sharepoint.cn                      → https://login.chinacloudapi.cn   (21Vianet)
//	anything else                        → https://login.microsoftonline.com
//
// --authority (OAuthConfig.Authority) overrides it; so does the stored
// login's authority at mount time (a refresh token is only good where it
// was issued).

// Authorities of the national clouds.
const (
	AuthorityUSGov = "https://login.microsoftonline.us"
	AuthorityChina = "https://login.chinacloudapi.cn"
)

// AuthorityFor returns the Entra ID authority for a library or site URL.
func AuthorityFor(siteURL string) string {
	u, err := url.Parse(siteURL)
	if err != nil {
		return DefaultAuthority
	}
	h := strings.ToLower(u.Hostname())
	switch {
	case hostUnder(h, "sharepoint.us"), hostUnder(h, "sharepoint-mil.us"):
		return AuthorityUSGov
	case hostUnder(h, "sharepoint.cn"):
		return AuthorityChina
	}
	return DefaultAuthority
}

// STSURLFor returns the legacy security token service (extSTS.srf) of the
// library's cloud: the same host as its authority [inf: gosip names
// login-us.microsoftonline.com for US Gov, rclone login.microsoftonline.us].
func STSURLFor(siteURL string) string {
	return AuthorityFor(siteURL) + "/extSTS.srf"
}

func hostUnder(h, domain string) bool { return h == domain || strings.HasSuffix(h, "."+domain) }
