package auth

import (
	"net/url"
	"regexp"
	"strings"
)

// What Entra ID's AADSTS codes mean for a person running odfb, and what
// they can do about each (docs/login.md has the same table and the
// decision tree around it). Sources: Microsoft's "Microsoft Entra
// authentication and authorization error codes" [doc]; the wording of
// the advice is ours.

// aadstsAdvice is one entry of the table.
type aadstsAdvice struct {
	meaning string
	// next is what to do; {client}, {consent} and {site} are filled in.
	next string
}

var aadstsTable = map[string]aadstsAdvice{
	"50076":   {"multi-factor authentication is required", "sign in again with `odfb login {site}` and complete the MFA prompt in the browser"},
	"50079":   {"the account must enrol in multi-factor authentication", "sign in again with `odfb login {site}`, enrol in MFA when the browser asks"},
	"53000":   {"Conditional Access requires a compliant (managed) device", "use cookies from a browser on a compliant device (`--cookies-from-browser firefox|chromium`), or ask your administrator to exempt this client id ({client}) or device"},
	"53001":   {"Conditional Access requires a domain-joined device", "use cookies from a browser on a joined device (`--cookies-from-browser firefox|chromium`), or ask your administrator"},
	"53003":   {"a Conditional Access policy blocks this sign-in", "use cookies from a browser the policy trusts (`--cookies-from-browser firefox|chromium`), or ask your administrator to allow client id {client}"},
	"65001":   {"nobody has consented to client id {client} for SharePoint in this tenant", "an administrator grants consent once at {consent} (or pass an already consented app with `--client-id`)"},
	"70043":   {"the sign-in frequency policy ended the login", "run `odfb login {site}` again (your organisation requires it periodically)"},
	"700082":  {"the stored login expired after 90 days without use", "run `odfb login {site}` again"},
	"50173":   {"the grant was revoked (password change or an administrator's revocation)", "run `odfb login {site}` again"},
	"50105":   {"you are not assigned to the application {client}", "ask your administrator to assign you to it (Enterprise applications → Users and groups), or use another `--client-id`"},
	"700016":  {"client id {client} does not exist in this tenant", "check `--client-id` (and `--tenant`); an app registered in another tenant must be multi-tenant"},
	"50126":   {"wrong user name or password", "check the user name and the password"},
	"7000218": {"the app registration {client} does not allow public client flows (device code)", "an administrator sets Authentication → \"Allow public client flows\" = Yes on the app, or use another `--client-id`"},
}

var aadstsRE = regexp.MustCompile(`AADSTS(\d+)`)

// aadstsCode returns the number of the first AADSTS code in s ("" if none).
func aadstsCode(s string) string {
	m := aadstsRE.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// AADSTSAdvice returns what AADSTS code (digits, or "AADSTSnnn") means and
// what to do about it, filled in for the client id, tenant, authority and
// library URL at hand; ok is false for codes odfb does not know (they are
// shown as they came).
func AADSTSAdvice(code, clientID, tenant, authority, siteURL string) (meaning, next string, ok bool) {
	code = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(code)), "AADSTS")
	a, ok := aadstsTable[code]
	if !ok {
		return "", "", false
	}
	if clientID == "" {
		clientID = DefaultClientID
	}
	if siteURL == "" {
		siteURL = "URL"
	}
	r := strings.NewReplacer("{client}", clientID, "{consent}", AdminConsentURL(authority, tenant, clientID), "{site}", siteURL)
	return r.Replace(a.meaning), r.Replace(a.next), true
}

// AdminConsentURL is the page where an administrator of tenant grants
// the client id its permissions for the whole organisation.
func AdminConsentURL(authority, tenant, clientID string) string {
	if authority == "" {
		authority = DefaultAuthority
	}
	if tenant == "" {
		tenant = DefaultTenant
	}
	return strings.TrimRight(authority, "/") + "/" + url.PathEscape(tenant) + "/adminconsent?client_id=" + url.QueryEscape(clientID)
}
