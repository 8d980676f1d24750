package spemu

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// The legacy SAML login (sharepoint-protocol.md §1.2–1.5, §1.7).

const (
	nsS12   = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA5  = "http://www.w3.org/2005/08/addressing"
	nsWSSEc = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSUc  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsWST5  = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsWSP4  = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	nsPSFc  = "http://schemas.microsoft.com/Passport/SoapServices/SOAPFault"
	rstIssu = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue"
)

// serveUserRealm answers home-realm discovery: Managed for the tenant's
// domain, Unknown otherwise; JSON, or XML with xml=1.
func (l *loginService) serveUserRealm(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	login := r.Form.Get("login")
	domain := ""
	if i := strings.LastIndexByte(login, '@'); i >= 0 {
		domain = strings.ToLower(login[i+1:])
	}
	ns := "Unknown"
	tenantDomain := ""
	if i := strings.LastIndexByte(l.user, '@'); i >= 0 {
		tenantDomain = strings.ToLower(l.user[i+1:])
	}
	if domain != "" && domain == tenantDomain {
		ns = "Managed"
	}
	if r.Form.Get("xml") == "1" {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		type realm struct {
			XMLName       xml.Name `xml:"RealmInfo"`
			Success       string   `xml:"Success,attr"`
			State         int      `xml:"State"`
			UserState     int      `xml:"UserState"`
			Login         string   `xml:"Login"`
			NameSpaceType string   `xml:"NameSpaceType"`
			DomainName    string   `xml:"DomainName"`
			BrandName     string   `xml:"FederationBrandName"`
			CloudInstance string   `xml:"CloudInstanceName"`
		}
		_, _ = io.WriteString(w, xml.Header)
		_ = xml.NewEncoder(w).Encode(realm{Success: "true", State: 4, UserState: 1, Login: login, NameSpaceType: ns,
			DomainName: domain, BrandName: domain, CloudInstance: "microsoftonline.com"})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"State": 4, "UserState": 1, "Login": login, "NameSpaceType": ns, "DomainName": domain,
		"FederationBrandName": domain, "CloudInstanceName": "microsoftonline.com",
		"CloudInstanceIssuerUri": "urn:federation:MicrosoftOnline",
	})
}

func loginChild(e *etree.Element, ns, local string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

func loginChildText(e *etree.Element, steps ...string) string {
	for i := 0; i+1 < len(steps); i += 2 {
		e = loginChild(e, steps[i], steps[i+1])
	}
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text())
}

// loginSTSFaults are the faults extSTS can be switched to (§1.4).
var loginSTSFaults = map[string]struct{ value, text string }{
	"50126":  {"0x80048821", "AADSTS50126: Error validating credentials due to invalid username or password."},
	"50053":  {"0x80048821", "AADSTS50053: The account is locked, you've tried to sign in too many times with an incorrect user ID or password."},
	"50076":  {"0x80048823", "AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource."},
	"53003":  {"0x80048823", "AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."},
	"badreq": {"0x80048820", "AADSTS90014: The request is not a valid WS-Trust RequestSecurityToken envelope."},
	// The real STS's answer to an AppliesTo outside the tenant is not
	// documented [unc]; spemu names the resource as Entra ID does.
	"audience": {"0x80048820", "AADSTS500011: The resource principal named in AppliesTo was not found in the tenant."},
}

// serveExtSTS checks the RST envelope by namespace (action, user name
// token, AppliesTo) and answers with the RSTR of §1.4 or a fault. The
// AppliesTo address must be on the host the request came to: spemu plays
// the STS and the site at once, and a token is only ever for the site the
// user signs in to (§1.3: "any https://<its-host>/… address", the host
// being the audience); another host gets a fault before the password is
// checked. The content type is not checked: the real STS is lenient.
func (l *loginService) serveExtSTS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	doc := etree.NewDocument()
	if doc.ReadFromBytes(body) != nil || doc.Root() == nil || doc.Root().Tag != "Envelope" || doc.Root().NamespaceURI() != nsS12 {
		l.writeSTSFault(w, "badreq")
		return
	}
	env := doc.Root()
	action := loginChildText(env, nsS12, "Header", nsWSA5, "Action")
	user := loginChildText(env, nsS12, "Header", nsWSSEc, "Security", nsWSSEc, "UsernameToken", nsWSSEc, "Username")
	pwEl := loginChild(loginChild(loginChild(loginChild(env, nsS12, "Header"), nsWSSEc, "Security"), nsWSSEc, "UsernameToken"), nsWSSEc, "Password")
	applies := loginChildText(env, nsS12, "Body", nsWST5, "RequestSecurityToken", nsWSP4, "AppliesTo", nsWSA5, "EndpointReference", nsWSA5, "Address")
	au, err := url.Parse(applies)
	if action != rstIssu || pwEl == nil || err != nil || au.Host == "" {
		l.writeSTSFault(w, "badreq")
		return
	}
	if strings.ToLower(au.Host) != loginHost(r) {
		l.writeSTSFault(w, "audience")
		return
	}
	pw := pwEl.Text() // not trimmed: spaces are part of a password
	cfg := l.config()
	fault := cfg.STSFault
	if !strings.EqualFold(user, l.user) || pw != l.password {
		fault = "50126"
	}
	if fault == "notoken" || fault == "notoken-body" {
		l.writeNoToken(w, fault == "notoken-body")
		return
	}
	if fault != "" {
		if _, ok := loginSTSFaults[fault]; !ok {
			fault = "50126"
		}
		l.writeSTSFault(w, fault)
		return
	}
	tok := "t=" + loginSecret("EwD", 48) + "&p="
	now := l.now().UTC()
	exp := now.Add(cfg.STSTokenTTL)
	l.mu.Lock()
	l.sts[tok] = loginGrant{user: l.user, audience: strings.ToLower(au.Host), expires: exp}
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	out := etree.NewDocument()
	out.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	e := out.CreateElement("S:Envelope")
	for _, a := range [][2]string{{"S", nsS12}, {"wsse", nsWSSEc}, {"wsu", nsWSUc}, {"wsa", nsWSA5}, {"wsp", nsWSP4}, {"wst", nsWST5}} {
		e.CreateAttr("xmlns:"+a[0], a[1])
	}
	h := e.CreateElement("S:Header")
	act := h.CreateElement("wsa:Action")
	act.CreateAttr("S:mustUnderstand", "1")
	act.CreateAttr("wsu:Id", "Action")
	act.SetText("http://schemas.xmlsoap.org/ws/2005/02/trust/RSTR/Issue")
	to := h.CreateElement("wsa:To")
	to.CreateAttr("S:mustUnderstand", "1")
	to.CreateAttr("wsu:Id", "To")
	to.SetText("http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous")
	sec := h.CreateElement("wsse:Security")
	sec.CreateAttr("S:mustUnderstand", "1")
	ts := sec.CreateElement("wsu:Timestamp")
	ts.CreateAttr("wsu:Id", "TS")
	ts.CreateElement("wsu:Created").SetText(now.Format("2006-01-02T15:04:05.0000000Z"))
	ts.CreateElement("wsu:Expires").SetText(now.Add(5 * time.Minute).Format("2006-01-02T15:04:05.0000000Z"))
	rstr := e.CreateElement("S:Body").CreateElement("wst:RequestSecurityTokenResponse")
	rstr.CreateAttr("xmlns:S", nsS12)
	rstr.CreateElement("wst:TokenType").SetText("urn:passport:compact")
	rstr.CreateElement("wsp:AppliesTo").CreateElement("wsa:EndpointReference").CreateElement("wsa:Address").SetText(applies)
	lt := rstr.CreateElement("wst:Lifetime")
	lt.CreateElement("wsu:Created").SetText(now.Format(time.RFC3339))
	lt.CreateElement("wsu:Expires").SetText(exp.Format(time.RFC3339))
	bst := rstr.CreateElement("wst:RequestedSecurityToken").CreateElement("wsse:BinarySecurityToken")
	bst.CreateAttr("Id", "Compact0")
	bst.CreateAttr("xmlns:wsse", nsWSSEc) // newer responses redeclare it here (§1.4)
	bst.SetText(tok)
	ref := loginSecret("", 20)
	for _, n := range []string{"wst:RequestedAttachedReference", "wst:RequestedUnattachedReference"} {
		rstr.CreateElement(n).CreateElement("wsse:SecurityTokenReference").CreateElement("wsse:Reference").CreateAttr("URI", ref)
	}
	_, _ = out.WriteTo(w)
}

func loginPSFHeader(h *etree.Element, reqstatus string) *etree.Element {
	pp := h.CreateElement("psf:pp")
	pp.CreateAttr("xmlns:psf", nsPSFc)
	pp.CreateElement("psf:serverVersion").SetText("1")
	pp.CreateElement("psf:authstate").SetText("0x80048800")
	pp.CreateElement("psf:reqstatus").SetText(reqstatus)
	si := pp.CreateElement("psf:serverInfo")
	si.CreateAttr("ServerTime", time.Now().UTC().Format("2006-01-02T15:04:05.00Z"))
	si.SetText("ESTS-SPEMU rid:" + loginSecret("", 8))
	return pp
}

// writeSTSFault writes the psf-decorated SOAP fault of §1.4 (HTTP 500,
// one of the statuses seen; clients must read the body either way).
func (l *loginService) writeSTSFault(w http.ResponseWriter, code string) {
	f := loginSTSFaults[code]
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	e := doc.CreateElement("S:Envelope")
	e.CreateAttr("xmlns:S", nsS12)
	e.CreateAttr("xmlns:wst", nsWST5)
	e.CreateAttr("xmlns:psf", nsPSFc)
	loginPSFHeader(e.CreateElement("S:Header"), f.value)
	fe := e.CreateElement("S:Body").CreateElement("S:Fault")
	c := fe.CreateElement("S:Code")
	c.CreateElement("S:Value").SetText("S:Sender")
	c.CreateElement("S:Subcode").CreateElement("S:Value").SetText("wst:FailedAuthentication")
	rt := fe.CreateElement("S:Reason").CreateElement("S:Text")
	rt.CreateAttr("xml:lang", "en-US")
	rt.SetText("Authentication Failure")
	pe := fe.CreateElement("S:Detail").CreateElement("psf:error")
	pe.CreateElement("psf:value").SetText(f.value)
	ie := pe.CreateElement("psf:internalerror")
	ie.CreateElement("psf:code").SetText(f.value)
	ie.CreateElement("psf:text").SetText(f.text)
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = doc.WriteTo(w)
}

// writeNoToken writes the "success without a token" envelope of §1.4,
// its psf:pp (status codes) in S:Header, or with inBody inside the body's
// RequestSecurityTokenResponse, where the real STS has put it too.
func (l *loginService) writeNoToken(w http.ResponseWriter, inBody bool) {
	doc := etree.NewDocument()
	e := doc.CreateElement("S:Envelope")
	e.CreateAttr("xmlns:S", nsS12)
	e.CreateAttr("xmlns:wst", nsWST5)
	h := e.CreateElement("S:Header")
	rstr := e.CreateElement("S:Body").CreateElement("wst:RequestSecurityTokenResponse")
	rstr.CreateElement("wst:TokenType").SetText("urn:passport:compact")
	at := h
	if inBody {
		at = rstr
	}
	loginPSFHeader(at, "0x8004882c").CreateElement("psf:errorstatus").SetText("0x80045b00")
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	_, _ = doc.WriteTo(w)
}

// serveWSignIn exchanges an STS token (the raw body t=…&p=) for FedAuth
// (host-only) and rtFa, set on this 302 response itself. With legacy auth
// off it answers the same redirect without cookies (§1.7).
func (l *loginService) serveWSignIn(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	tok := strings.TrimSpace(string(body))
	if u, err := url.QueryUnescape(tok); err == nil && strings.HasPrefix(u, "t=") && !strings.HasPrefix(tok, "t=") {
		tok = u
	}
	host := loginHost(r)
	l.mu.Lock()
	g, ok := l.sts[tok]
	cfg := l.cfg
	l.mu.Unlock()
	w.Header().Set("Location", l.site+"/")
	if !ok || !l.now().Before(g.expires) || g.audience != host {
		w.Header().Set("X-MSDAVEXT_Error", "917656; Access+denied.+Before+opening+files+in+this+location%2c+you+must+first+browse+to+the+web+site+and+select+the+option+to+login+automatically.")
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if cfg.LegacyAuthOff {
		w.WriteHeader(http.StatusFound)
		return
	}
	ttl := l.cookieTTL
	if left := g.expires.Sub(l.now()); left < ttl {
		ttl = left
	}
	fed := l.issueCookie("FedAuth", g.user, ttl)
	rt := l.issueCookie("rtFa", g.user, ttl)
	l.mu.Lock()
	l.legacyCookies[fed] = true
	l.legacyCookies[rt] = true
	l.mu.Unlock()
	secure := ""
	if r.TLS != nil {
		secure = " secure;"
	}
	w.Header().Add("Set-Cookie", fmt.Sprintf("rtFa=%s;%s path=/;%s HttpOnly", rt, loginRtFaDomain(host), secure))
	w.Header().Add("Set-Cookie", fmt.Sprintf("FedAuth=%s; path=/;%s HttpOnly", fed, secure))
	w.WriteHeader(http.StatusFound)
}

// rtFaDomain is the tenant-wide domain attribute rtFa carries
// (domain=sharepoint.com for contoso.sharepoint.com); none for an IP
// address or a single-label host.
func loginRtFaDomain(host string) string {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if net.ParseIP(h) != nil {
		return ""
	}
	i := strings.IndexByte(h, '.')
	if i < 0 || !strings.Contains(h[i+1:], ".") {
		return ""
	}
	return " domain=" + h[i+1:] + ";"
}
