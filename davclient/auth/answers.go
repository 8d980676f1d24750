package auth

import (
	"encoding/json"
	"net/http"
	"strings"
)

// This file reads SharePoint's answers the way SharePoint means them, for
// davclient and for the strategies' own probes: a 401 that is throttling
// in disguise, and the reason a refusal carries (x-ms-diagnostics, the
// body's error_description).

// ThrottledRefusal reports whether an answer with status 401 (or 403) is
// SharePoint Online throttling rather than a credential failure: the body
// reads "429 TOO MANY REQUESTS" (OneDrive/onedrive-api-docs#799,
// SharePoint/sp-dev-docs#2547), or is a JSON error whose code says
// throttled (activityLimitReached, throttledRequest, TooManyRequests), or
// the answer carries Retry-After (which no credential refusal needs).
// Renewing credentials on such an answer is wrong twice: it does not
// help, and for a password login it counts against the account.
func ThrottledRefusal(status int, h http.Header, body []byte) bool {
	if status != http.StatusUnauthorized && status != http.StatusForbidden {
		return false
	}
	if strings.TrimSpace(h.Get("Retry-After")) != "" {
		return true
	}
	b := strings.ToUpper(string(body))
	if strings.Contains(b, "429 TOO MANY REQUESTS") || strings.Contains(b, "TOO MANY REQUESTS") {
		return true
	}
	switch strings.ToLower(jsonErrorCode(body)) {
	case "activitylimitreached", "throttledrequest", "toomanyrequests", "too_many_requests":
		return true
	}
	return false
}

// jsonErrorCode returns error.code (or "odata.error".code, or a string
// "error") of a JSON error body; "" when there is none.
func jsonErrorCode(body []byte) string {
	b := strings.TrimSpace(string(body))
	if !strings.HasPrefix(b, "{") {
		return ""
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal([]byte(b), &raw) != nil {
		return ""
	}
	for _, k := range []string{"error", "odata.error"} {
		v, ok := raw[k]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		var e struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(v, &e) == nil && e.Code != "" {
			return e.Code
		}
	}
	return ""
}

// RefusalReason returns the reason a refusal (401/403) gives, for an
// error message, a log line and `odfb status`: the reason and category
// of x-ms-diagnostics (e.g. `3000003: Invalid audience Uri '…'
// (invalid_client)`) and the body's error_description. "" when the answer
// names none. Neither carries a secret: SharePoint puts only its verdict
// there, never the token.
func RefusalReason(h http.Header, body []byte) string {
	var parts []string
	if d := DiagnosticsReason(h.Get("x-ms-diagnostics")); d != "" {
		parts = append(parts, "x-ms-diagnostics "+d)
	}
	if d := errorDescription(body); d != "" {
		parts = append(parts, "error_description: "+d)
	}
	return strings.Join(parts, "; ")
}

// DiagnosticsReason renders an x-ms-diagnostics value
// (`3000003;reason="Invalid audience Uri '…'";category="invalid_client"`)
// as `3000003: Invalid audience Uri '…' (invalid_client)`; a value of
// another shape is shortened as it is.
func DiagnosticsReason(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	code, rest, _ := strings.Cut(v, ";")
	code = strings.TrimSpace(code)
	var reason, category string
	for rest != "" {
		var kv string
		kv, rest = cutParam(rest)
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "reason":
			reason = val
		case "category":
			category = val
		}
	}
	if reason == "" {
		return oneLine(v, 300)
	}
	s := reason
	if code != "" {
		s = code + ": " + reason
	}
	if category != "" {
		s += " (" + category + ")"
	}
	return oneLine(s, 300)
}

// cutParam splits off one ;-separated parameter, honouring quotes (a
// reason may contain ';').
func cutParam(s string) (string, string) {
	inQ := false
	for i, r := range s {
		switch {
		case r == '"':
			inQ = !inQ
		case r == ';' && !inQ:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// errorDescription reads error_description from a JSON body (SharePoint's
// bearer refusals: {"error_description":"Invalid issuer or signature."}).
func errorDescription(body []byte) string {
	b := strings.TrimSpace(string(body))
	if !strings.HasPrefix(b, "{") {
		return ""
	}
	var j struct {
		Desc string `json:"error_description"`
	}
	if json.Unmarshal([]byte(b), &j) != nil {
		return ""
	}
	return oneLine(j.Desc, 300)
}
