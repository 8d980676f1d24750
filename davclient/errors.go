package davclient

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/odfb/odfb/davclient/auth"
	"github.com/odfb/odfb/remote"
)

// maxErrBody bounds how much of an error response is read for its message.
const maxErrBody = 64 << 10

// statusError turns a final non-success response into a *remote.Error.
// It reads (a bounded part of) and closes the body.
func statusError(op, p string, resp *http.Response) *remote.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	resp.Body.Close()
	e := &remote.Error{Op: op, Path: p, Status: resp.StatusCode}
	e.Detail = serverDetail(resp, body)
	davErr := resp.Header.Get("X-MSDAVEXT_Error")
	restErr := parseRESTError(body)
	switch st := resp.StatusCode; {
	case auth.ThrottledRefusal(st, resp.Header, body):
		// SharePoint Online's throttling dressed as 401: not a credential
		// failure (the retry wrapper waited it out; this is what remained).
		e.Kind = remote.ErrThrottled
		e.RetryAfter = retryAfter(resp, time.Now())
		if e.Detail == "" {
			e.Detail = "the server throttled the request (answered " + strconv.Itoa(st) + " " + shorten(string(body), 40) + ")"
		}
	case isAuthFailure(resp):
		e.Kind = remote.ErrAuth
	case restErr.listViewThreshold():
		// SPQueryThrottledException: the call exceeds the list view
		// threshold; it fails the same way every time.
		e.Kind = remote.ErrForbidden
	case restErr.invalidChangeToken():
		e.Kind = remote.ErrChangeToken
	case restErr.noSuchResource():
		// "Cannot find resource for the request startUpload": the
		// server has no such REST function (SharePoint 2013 has no
		// chunked upload). Not a missing file, and not worth retrying.
		e.Kind = remote.ErrNotSupported
	case st == http.StatusNotFound && op == "PUT" && iisTooLarge(body):
		// IIS request filtering answers an over-long body with 404.13,
		// not 413; calling it "not found" would send the uploader
		// looking for a missing folder instead of to lost+found.
		e.Kind = remote.ErrTooLarge
		e.Detail = "the server's request filter refused the body as too large (IIS 404.13)"
	case st == http.StatusNotFound || st == http.StatusGone:
		e.Kind = remote.ErrNotFound
	case st == http.StatusMethodNotAllowed && op == "MKCOL":
		e.Kind = remote.ErrExists
	case st == http.StatusConflict:
		e.Kind = remote.ErrConflict
	case st == http.StatusPreconditionFailed:
		e.Kind = remote.ErrPrecondition
	case st == http.StatusRequestEntityTooLarge || restErr.tooBig():
		e.Kind = remote.ErrTooLarge
	case st == http.StatusLocked:
		e.Kind = remote.ErrLocked
	case st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable:
		e.Kind = remote.ErrThrottled
		e.RetryAfter = retryAfter(resp, time.Now())
	case st == http.StatusBadRequest && davErr != "":
		e.Kind = remote.ErrInvalidName
	case st == http.StatusForbidden:
		e.Kind = remote.ErrForbidden
	case st == http.StatusInsufficientStorage:
		e.Kind = remote.ErrTooLarge
		if e.Detail == "" {
			e.Detail = "the library is out of space"
		}
	case st >= 300 && st < 400:
		e.Kind = remote.ErrServer
		e.Detail = "unexpected redirect to " + redactURL(resp.Header.Get("Location"))
	default:
		e.Kind = remote.ErrServer
	}
	return e
}

// iisTooLarge reports whether body is IIS's 404.13 page ("The request
// filtering module is configured to deny a request that exceeds the
// request content length").
func iisTooLarge(body []byte) bool {
	b := strings.ToLower(string(body))
	return strings.Contains(b, "404.13") || strings.Contains(b, "exceeds the request content length")
}

// serverDetail extracts the server's own explanation: the X-MSDAVEXT_Error
// text, a REST error message, or a short plain-text body.
func serverDetail(resp *http.Response, body []byte) string {
	var reason string
	if st := resp.StatusCode; st == http.StatusUnauthorized || st == http.StatusForbidden {
		// The reason a refusal gives (x-ms-diagnostics, error_description)
		// is what tells the user which step failed.
		reason = auth.RefusalReason(resp.Header, body)
	}
	if h := resp.Header.Get("X-MSDAVEXT_Error"); h != "" {
		code, text, _ := strings.Cut(h, ";")
		text = strings.TrimSpace(text)
		if dec, err := url.QueryUnescape(text); err == nil {
			text = dec
		}
		d := shorten(strings.TrimSpace(code+" "+text), 300)
		if reason != "" {
			d += "; " + reason
		}
		return d
	}
	if reason != "" {
		return reason
	}
	if re := parseRESTError(body); re.Message != "" {
		return shorten(re.Code+": "+re.Message, 300)
	}
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/plain") && len(body) > 0 {
		return shorten(string(body), 200)
	}
	return ""
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// redactURL drops the query (return URLs may carry tokens) from a URL for
// a message.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// restError is SharePoint's REST error body, verbose ("error") or
// nometadata ("odata.error"); message is an object or a plain string.
type restError struct {
	Code    string
	Message string
}

func (r restError) tooBig() bool {
	m := strings.ToLower(r.Message)
	return strings.Contains(m, "request message is too big") ||
		(strings.Contains(r.Code, "InvalidClientQueryException") && strings.Contains(m, "too big"))
}

// listViewThreshold reports SPQueryThrottledException ("The attempted
// operation is prohibited because it exceeds the list view threshold").
func (r restError) listViewThreshold() bool {
	return strings.Contains(r.Code, "SPQueryThrottledException") ||
		strings.Contains(strings.ToLower(r.Message), "exceeds the list view threshold")
}

// noSuchResource reports OData's "Cannot find resource for the request
// <function>": the server does not have the REST function called.
func (r restError) noSuchResource() bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Message)), "cannot find resource for the request")
}

// invalidChangeToken reports SPInvalidChangeTokenException (-2130575172)
// or "Change token is not valid for this list" (-2130575173): the change
// log does not know the token any more.
func (r restError) invalidChangeToken() bool {
	return strings.Contains(r.Code, "SPInvalidChangeTokenException") || strings.HasPrefix(r.Code, "-2130575172") ||
		strings.HasPrefix(r.Code, "-2130575173")
}

// permanentServerAnswer reports a 5xx body that retrying cannot change.
func permanentServerAnswer(body []byte) bool {
	re := parseRESTError(body)
	return re.listViewThreshold() || re.invalidChangeToken()
}

// securityValidation reports the "invalid form digest" error.
func (r restError) securityValidation() bool {
	return strings.HasPrefix(r.Code, "-2130575251") || strings.Contains(strings.ToLower(r.Message), "security validation")
}

func parseRESTError(body []byte) restError {
	b := strings.TrimSpace(string(body))
	if !strings.HasPrefix(b, "{") {
		return restError{}
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal([]byte(b), &raw) != nil {
		return restError{}
	}
	ej, ok := raw["error"]
	if !ok {
		ej, ok = raw["odata.error"]
	}
	if !ok {
		return restError{}
	}
	var e struct {
		Code    json.RawMessage `json:"code"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(ej, &e) != nil {
		return restError{}
	}
	var out restError
	_ = json.Unmarshal(e.Code, &out.Code)
	var s string
	if json.Unmarshal(e.Message, &s) == nil {
		out.Message = s
	} else {
		var m struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(e.Message, &m) == nil {
			out.Message = m.Value
		}
	}
	return out
}
