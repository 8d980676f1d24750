package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// BearerCommandConfig configures the bearer-command strategy: a program
// the user provides (az, a token broker, a script around MSAL) prints an
// OAuth access token for the SharePoint host on stdout.
type BearerCommandConfig struct {
	// Command is run with /bin/sh -c. It gets ODFB_RESOURCE
	// (https://host) and ODFB_SCOPE (https://host/.default) in its
	// environment and prints either the bare token, "Bearer <token>", or
	// a JSON object with access_token/accessToken and optionally
	// expires_in/expiresIn/expires_on/expiresOn.
	Command string
	// SiteURL is the library (or site) URL; its host is the audience.
	SiteURL string
	// OnDAV sends the token as Authorization: Bearer on every request
	// instead of exchanging it for an SPOIDCRL cookie (for servers that
	// take bearer tokens on WebDAV verbs; SharePoint's own behaviour is
	// uncertain, see sharepoint-protocol.md §2.4).
	OnDAV bool
	// HTTPClient is used for the cookie exchange (nil: a default one).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Timeout bounds one run of the command (default 2 minutes).
	Timeout time.Duration
}

// BearerCommand is the bearer-command Authenticator.
type BearerCommand struct {
	cfg    BearerCommandConfig
	base   string
	client *http.Client
	sess   *loginSession
	// onDAV is set once SharePoint refused the token exchange and took
	// the token as Bearer on WebDAV.
	onDAV atomic.Bool
}

var _ Authenticator = (*BearerCommand)(nil)

// NewBearerCommand checks cfg and returns the strategy; nothing runs until
// the first request.
func NewBearerCommand(cfg BearerCommandConfig) (*BearerCommand, error) {
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, errors.New("bearer-command: no command given")
	}
	b, err := siteBase(cfg.SiteURL)
	if err != nil {
		return nil, fmt.Errorf("bearer-command: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	a := &BearerCommand{cfg: cfg, base: b.String(), client: loginHTTPClient(cfg.HTTPClient)}
	a.sess = newLoginSession(a.String(), cfg.Logger, a.login)
	if !cfg.OnDAV {
		a.sess.probe = probeWith(a.client, cfg.SiteURL)
	}
	return a, nil
}

// String names the strategy without secrets.
func (a *BearerCommand) String() string {
	mode := "cookie exchange"
	if a.cfg.OnDAV {
		mode = "bearer on DAV"
	}
	return fmt.Sprintf("bearer-command (%s) for %s", mode, a.base)
}

// Authorize adds the SPOIDCRL cookie (or the bearer header), running the
// command first when nothing is held yet or the held one is about to end.
func (a *BearerCommand) Authorize(ctx context.Context, req *http.Request) error {
	return a.sess.authorize(ctx, req)
}

// Refresh runs the command again (and exchanges the new token).
func (a *BearerCommand) Refresh(ctx context.Context) error { return a.sess.refresh(ctx) }

func (a *BearerCommand) login(ctx context.Context, _ *loginCredential, _ bool) (*loginCredential, error) {
	tok, exp, err := a.run(ctx)
	if err != nil {
		return nil, err
	}
	if a.cfg.OnDAV || a.onDAV.Load() {
		a.cfg.loggerOrDiscard().Info("auth: bearer command produced a token", "strategy", "bearer-command", "host", a.base, "expires", fmtTime(exp))
		return &loginCredential{header: "Authorization", value: "Bearer " + tok, issued: time.Now(), expires: exp}, nil
	}
	c, err := exchangeBearer(ctx, a.client, a.base, tok)
	if err != nil && errors.Is(err, ErrExchangeRefused) {
		// As for oauth: try the token itself on WebDAV once, keep it if
		// SharePoint takes it.
		perr := bearerOnDAVWorks(ctx, a.client, a.cfg.SiteURL, tok)
		if perr == nil {
			a.onDAV.Store(true)
			a.cfg.loggerOrDiscard().Info("auth: SharePoint refused the token exchange but takes the command's token on WebDAV; using Bearer", "strategy", "bearer-command", "host", a.base)
			return &loginCredential{header: "Authorization", value: "Bearer " + tok, issued: time.Now(), expires: exp}, nil
		}
		return nil, &StepError{Step: "exchange", Err: fmt.Errorf("bearer-command: %w, and SharePoint did not take the token directly on WebDAV either (%v)", err, perr), Next: remainingRoutes}
	}
	if err != nil {
		if errors.Is(err, errTokenRefused) {
			return nil, fmt.Errorf("bearer-command: %w; the command must print a delegated access token for %s (scope %s/.default)", err, a.base, a.base)
		}
		return nil, fmt.Errorf("bearer-command: %w", err)
	}
	a.cfg.loggerOrDiscard().Info("auth: exchanged the command's token for a SharePoint cookie", "strategy", "bearer-command", "host", a.base, "cookie_expires", fmtTime(c.expires))
	return c, nil
}

// run executes the command and parses its output.
func (a *BearerCommand) run(ctx context.Context) (string, time.Time, error) {
	env := append(os.Environ(), "ODFB_RESOURCE="+a.base, "ODFB_SCOPE="+a.base+"/.default")
	out, _, err := runCredentialCommand(ctx, "bearer-command", a.cfg.Command, a.cfg.Timeout, env)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, exp, err := parseTokenOutput(out)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("bearer-command: %w", err)
	}
	return tok, exp, nil
}

// parseTokenOutput understands a bare token, "Bearer <token>" and JSON.
func parseTokenOutput(out []byte) (string, time.Time, error) {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return "", time.Time{}, errors.New("the command printed nothing")
	}
	if strings.HasPrefix(s, "{") {
		var j map[string]any
		if err := json.Unmarshal([]byte(s), &j); err != nil {
			return "", time.Time{}, errors.New("the command printed something that starts like JSON but is not valid JSON")
		}
		tok := firstString(j, "access_token", "accessToken", "token")
		if tok == "" {
			return "", time.Time{}, errors.New("the command's JSON has no access_token/accessToken field")
		}
		exp := jwtExpiry(tok)
		if n, ok := firstNumber(j, "expires_in", "expiresIn"); ok && n > 0 {
			exp = time.Now().Add(time.Duration(n) * time.Second)
		} else if n, ok := firstNumber(j, "expires_on", "expiresOn"); ok && n > 1e9 {
			exp = time.Unix(int64(n), 0)
		}
		return tok, exp, nil
	}
	line := strings.TrimSpace(strings.SplitN(s, "\n", 2)[0])
	if len(line) > 7 && strings.EqualFold(line[:7], "bearer ") {
		line = strings.TrimSpace(line[7:])
	}
	if strings.ContainsAny(line, " \t") {
		return "", time.Time{}, errors.New("the command's first line is not a token (it contains spaces)")
	}
	return line, jwtExpiry(line), nil
}

func firstString(j map[string]any, keys ...string) string {
	for _, k := range keys {
		if v, ok := j[k].(string); ok && v != "" {
			return v
		}
	}
	return ""
}

func firstNumber(j map[string]any, keys ...string) (float64, bool) {
	for _, k := range keys {
		switch v := j[k].(type) {
		case float64:
			return v, true
		case string:
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

func (c BearerCommandConfig) loggerOrDiscard() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}
