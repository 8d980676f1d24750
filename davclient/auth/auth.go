package auth

import (
	"context"
	"net/http"
)

// Authenticator gives HTTP requests their credentials. davclient calls
// Authorize on every request (first attempts and retries alike), and calls
// Refresh once when the server answers with an authentication failure
// (401, or 403 with X-MSDAVEXT_Error 917656 / the forms-auth headers),
// then replays the request once. Concurrent failures share one Refresh
// (davclient wraps every Authenticator in a singleflight), so an
// implementation never needs to guard against refresh storms itself; it
// must never loop or retry a login on its own after a refusal: repeated
// password logins lock accounts.
//
// Implementations are safe for concurrent use. Nothing they log, return
// in an error, or report through String may contain a secret.
type Authenticator interface {
	// Authorize adds credentials (a Cookie or an Authorization header) to
	// req. It may log in first when it holds no credentials yet, or when
	// what it holds is known to expire soon.
	Authorize(ctx context.Context, req *http.Request) error

	// Refresh obtains new credentials after the server refused the ones
	// Authorize added. An error here is final for the request that
	// triggered it and is reported to the caller as an auth error; its
	// text should tell a person what to do (run `odfb login`, fix the
	// cookie file, …).
	Refresh(ctx context.Context) error

	// String names the strategy for logs and `odfb status` ("cookie-file
	// /etc/odfb/cookie", "oauth alice@contoso.com"), without secrets.
	String() string
}
