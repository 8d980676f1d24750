package auth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// XML namespaces of the extSTS exchange (sharepoint-protocol.md §1.3–1.4).
const (
	nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA    = "http://www.w3.org/2005/08/addressing"
	nsWSSE   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsWST    = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsWSP    = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	nsPSF    = "http://schemas.microsoft.com/Passport/SoapServices/SOAPFault"
)

// buildRST returns the WS-Trust 2005/02 RequestSecurityToken envelope with
// a UsernameToken. etree escapes the text, so any character in the user
// name or password is safe.
func buildRST(stsURL, appliesTo, user, password string) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	env := doc.CreateElement("s:Envelope")
	env.CreateAttr("xmlns:s", nsSOAP12)
	env.CreateAttr("xmlns:a", nsWSA)
	env.CreateAttr("xmlns:u", nsWSU)
	hdr := env.CreateElement("s:Header")
	act := hdr.CreateElement("a:Action")
	act.CreateAttr("s:mustUnderstand", "1")
	act.SetText("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue")
	hdr.CreateElement("a:ReplyTo").CreateElement("a:Address").SetText("http://www.w3.org/2005/08/addressing/anonymous")
	to := hdr.CreateElement("a:To")
	to.CreateAttr("s:mustUnderstand", "1")
	to.SetText(stsURL)
	sec := hdr.CreateElement("o:Security")
	sec.CreateAttr("s:mustUnderstand", "1")
	sec.CreateAttr("xmlns:o", nsWSSE)
	ut := sec.CreateElement("o:UsernameToken")
	ut.CreateElement("o:Username").SetText(user)
	ut.CreateElement("o:Password").SetText(password)
	body := env.CreateElement("s:Body")
	rst := body.CreateElement("t:RequestSecurityToken")
	rst.CreateAttr("xmlns:t", nsWST)
	at := rst.CreateElement("wsp:AppliesTo")
	at.CreateAttr("xmlns:wsp", nsWSP)
	at.CreateElement("a:EndpointReference").CreateElement("a:Address").SetText(appliesTo)
	rst.CreateElement("t:KeyType").SetText("http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey")
	rst.CreateElement("t:RequestType").SetText("http://schemas.xmlsoap.org/ws/2005/02/trust/Issue")
	rst.CreateElement("t:TokenType").SetText("urn:oasis:names:tc:SAML:1.0:assertion")
	return doc.WriteToBytes()
}

// rstr is what an extSTS answer contained.
type rstr struct {
	token   string    // t=…&p=, secret
	created time.Time // zero if absent
	expires time.Time // zero if absent
	fault   *stsFault
	// reqStatus and errStatus are psf:reqstatus and psf:errorstatus of
	// the answer's psf:pp, reported when the answer has neither a token
	// nor a fault. psf:pp comes in S:Header or inside the body's
	// RequestSecurityTokenResponse; both are read.
	reqStatus, errStatus string
}

// findPSFpp returns the psf:pp elements anywhere under e, in document order.
func findPSFpp(e *etree.Element) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == "pp" && c.NamespaceURI() == nsPSF {
			out = append(out, c)
			continue
		}
		out = append(out, findPSFpp(c)...)
	}
	return out
}

// stsFault is a SOAP fault from the STS.
type stsFault struct {
	Subcode  string // e.g. wst:FailedAuthentication
	Reason   string // e.g. Authentication Failure
	Code     string // psf value, e.g. 0x80048821
	Text     string // psf:text, e.g. AADSTS50126: Error validating credentials…
	AADSTS   string // AADSTS50126, when the text carries one
	HTTPCode int
}

var aadstsCodeRE = regexp.MustCompile(`AADSTS(\d+)`)

// child returns the first child element of e with namespace ns and local
// name local (ns "" matches any namespace).
func soapChild(e *etree.Element, ns, local string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == local && (ns == "" || c.NamespaceURI() == ns) {
			return c
		}
	}
	return nil
}

func soapPath(e *etree.Element, steps ...[2]string) *etree.Element {
	for _, s := range steps {
		e = soapChild(e, s[0], s[1])
	}
	return e
}

func soapText(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text())
}

// parseRSTR reads an extSTS answer by namespace.
func parseRSTR(b []byte) (*rstr, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, errors.New("the STS answer is not XML")
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != nsSOAP12 {
		return nil, errors.New("the STS answer is not a SOAP 1.2 envelope")
	}
	r := &rstr{}
	for _, pp := range findPSFpp(env) {
		if r.reqStatus == "" {
			r.reqStatus = soapText(soapChild(pp, nsPSF, "reqstatus"))
		}
		if r.errStatus == "" {
			r.errStatus = soapText(soapChild(pp, nsPSF, "errorstatus"))
		}
	}
	body := soapChild(env, nsSOAP12, "Body")
	if body == nil {
		return nil, errors.New("the STS answer has no SOAP body")
	}
	if f := soapChild(body, nsSOAP12, "Fault"); f != nil {
		sf := &stsFault{
			Subcode: soapText(soapPath(f, [2]string{nsSOAP12, "Code"}, [2]string{nsSOAP12, "Subcode"}, [2]string{nsSOAP12, "Value"})),
			Reason:  soapText(soapPath(f, [2]string{nsSOAP12, "Reason"}, [2]string{nsSOAP12, "Text"})),
		}
		perr := soapPath(f, [2]string{nsSOAP12, "Detail"}, [2]string{nsPSF, "error"})
		sf.Code = soapText(soapChild(perr, nsPSF, "value"))
		sf.Text = soapText(soapPath(perr, [2]string{nsPSF, "internalerror"}, [2]string{nsPSF, "text"}))
		if m := aadstsCodeRE.FindString(sf.Text + " " + sf.Reason); m != "" {
			sf.AADSTS = m
		}
		r.fault = sf
		return r, nil
	}
	resp := soapChild(body, nsWST, "RequestSecurityTokenResponse")
	if resp == nil {
		return r, nil
	}
	r.token = soapText(soapPath(resp, [2]string{nsWST, "RequestedSecurityToken"}, [2]string{nsWSSE, "BinarySecurityToken"}))
	lt := soapChild(resp, nsWST, "Lifetime")
	r.created, _ = time.Parse(time.RFC3339Nano, soapText(soapChild(lt, nsWSU, "Created")))
	r.expires, _ = time.Parse(time.RFC3339Nano, soapText(soapChild(lt, nsWSU, "Expires")))
	return r, nil
}

// describe renders the fault for an error message (no secrets: the STS
// never echoes the password).
func (f *stsFault) describe() string {
	var parts []string
	if f.Text != "" {
		parts = append(parts, oneLine(f.Text, 300))
	} else if f.Reason != "" {
		parts = append(parts, oneLine(f.Reason, 200))
	}
	if f.Code != "" {
		parts = append(parts, "code "+f.Code)
	}
	if f.Subcode != "" {
		parts = append(parts, f.Subcode)
	}
	if len(parts) == 0 {
		return "a SOAP fault without details"
	}
	return strings.Join(parts, "; ")
}

// credentialRefused says whether the fault is about the account or its
// password, i.e. whether asking again could lock the account.
func (f *stsFault) credentialRefused() bool {
	switch f.AADSTS {
	case "AADSTS50126", "AADSTS50053", "AADSTS50034", "AADSTS50055", "AADSTS50057", "AADSTS50056":
		return true
	case "AADSTS50076", "AADSTS50079", "AADSTS53003":
		// MFA or a Conditional Access policy: the password was right,
		// the login kind is not allowed. The STS still tags these
		// wst:FailedAuthentication, so they must be decided before the
		// subcode below, or the user is told to fix a good password.
		return false
	}
	return strings.HasSuffix(f.Subcode, "FailedAuthentication") || f.Code == "0x80048821" || f.Code == "0x80041012"
}

// advice tells the person what to do about the fault.
func (f *stsFault) advice() string {
	switch f.AADSTS {
	case "AADSTS50126", "AADSTS50034":
		return "check the user name and the password (file, ODFB_PASSWORD or prompt)"
	case "AADSTS50053":
		return "the account is locked after too many sign-ins; wait for it to unlock (odfb will not try again on its own before the password changes)"
	case "AADSTS50055":
		return "the password has expired; change it, then update the password file"
	case "AADSTS50076", "AADSTS50079":
		return "the account needs multi-factor authentication, which the password login cannot do: use `odfb login` (OAuth device code)"
	case "AADSTS53003":
		return "a Conditional Access policy blocks this login: use `odfb login` (OAuth device code)"
	}
	if meaning, next, ok := AADSTSAdvice(f.AADSTS, "", "", "", ""); ok {
		return meaning + ": " + next
	}
	return "check the account, or use `odfb login` (OAuth device code)"
}

func (f *stsFault) String() string { return fmt.Sprintf("%s (%s)", f.describe(), f.advice()) }
