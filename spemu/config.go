package spemu

import (
	"io"
	"log/slog"
	"time"
)

// Config describes one emulated document library. The zero value of every
// field means "the default"; New fills the defaults in.
type Config struct {
	Listen   string // address for Start; default "127.0.0.1:0"
	Root     string // served directory; "" = a temp dir removed on Close
	Site     string // server-relative site URL; default "/personal/alice_contoso_com"
	Library  string // library URL segment; default "Documents"
	Auth     string // "none" | "basic" | "cookie" (default "cookie")
	User     string // default "alice@contoso.com"
	Password string // for basic auth (and the login endpoints)
	// CookieTTL is how long an issued session cookie stays valid; default 24h.
	CookieTTL time.Duration
	// PutLimit is the largest WebDAV PUT body accepted (413 above);
	// default 250 MiB (262144000). A negative value means no limit.
	PutLimit int64
	// RequestLog receives one JSON object per line per request; nil = none.
	// Writes are serialised by the server.
	RequestLog io.Writer
	Faults     Faults
	// Seed seeds the fault generator (and nothing else that matters to
	// clients); the same seed and request sequence give the same faults.
	Seed int64
	// OfficeMutation makes PUTs of .docx/.xlsx/.pptx (and the other Office
	// Open XML types) store slightly different bytes, as SharePoint's
	// property promotion does.
	OfficeMutation bool
	// RewriteExts lists more extensions (".jpg", any case) whose uploads
	// are rewritten as a new version, like OfficeMutation; "*" means every
	// file. SharePoint has been seen adding 12 bytes to JPEGs
	// (microsoftgraph/microsoft-graph-docs-contrib#8903); which other
	// types it rewrites is [unc]. A JPEG gets a 12-byte comment segment
	// after its start marker, a zip a comment, anything else bytes at the
	// end.
	RewriteExts []string
	// RewriteDelay, when > 0, makes the rewrite happen this long after the
	// upload was answered instead of before (SharePoint's has been seen
	// later than the upload's answer, microsoftgraph/microsoft-graph-docs#8078).
	RewriteDelay time.Duration
	Logger       *slog.Logger // nil = discard

	// --- Switches for behaviour the protocol reference marks [unc] ---

	// PlainReasonPhrases turns off SharePoint's upper-case HTTP/1.1 reason
	// phrases ("207 MULTI-STATUS") and lets net/http write its own
	// ("207 Multi-Status"). Only connections accepted by Start are
	// rewritten; Handler() used with httptest always gives Go's phrases.
	PlainReasonPhrases bool
	// AllowInfiniteDepth answers PROPFIND Depth: infinity (SharePoint 2007
	// did) instead of 403 propfind-finite-depth (the default, like IIS).
	AllowInfiniteDepth bool
	// OverwriteStatus is the status of a PUT that replaces an existing
	// file: 204 (default) or 200.
	OverwriteStatus int
	// NameErrorStatus is the status for a refused name or path: 400
	// (default), 403 or 409. The X-MSDAVEXT_Error header comes with each.
	NameErrorStatus int
	// MaxFolderItems, when > 0, makes PROPFIND Depth 1 on a folder with
	// more children fail with 503 (the [unc] large-folder behaviour). 0 =
	// no cap, the default.
	MaxFolderItems int
	// ProppatchBumpsETag makes a PROPPATCH that stores properties on a
	// file count as a new version (its ETag's N goes up), as the protocol
	// reference's "content/metadata version" suggests; whether SharePoint
	// does is [unc]. Off (the default), only content writes change it. A
	// client that sets mtime after an upload and then edits the file with
	// If-Match must work either way.
	ProppatchBumpsETag bool
	// QuotaBytes, when > 0, makes PROPFIND of the library root answer the
	// RFC 4331 properties quota-used-bytes (the sum of the file sizes in
	// the library) and quota-available-bytes (QuotaBytes minus that, not
	// below 0), when asked for by name. 0 (the default) answers them in a
	// 404 propstat like any unknown property: whether SharePoint reports
	// quota over WebDAV is [unc]. Uploads are never refused for quota.
	QuotaBytes int64
	// FolderTimesFixed keeps a folder's getlastmodified at its creation
	// time when entries are added to, removed from or renamed in it.
	// Whether SharePoint Online moves a folder's TimeLastModified then is
	// [unc] (docs/sharepoint.md); off (the default), spemu shows the time
	// of the folder's last change, as its disk does. A client must show
	// the change locally either way and never move a folder's time back.
	FolderTimesFixed bool
	// RequestLogLimit bounds the records kept in memory for Requests():
	// 0 keeps every record (tests), N > 0 keeps only the last N (a ring,
	// for long benchmarks). The RequestLog writer always gets every record.
	RequestLogLimit int
	// PublicURL, when set, is the scheme://host the emulator says it is
	// in absolute hrefs, Location headers and LibraryURL, instead of its
	// listener's address: tests serve it under a SharePoint host name
	// (https://contoso.sharepoint.us) through a transport that sends that
	// host's requests to the listener.
	PublicURL string
	// FullFileEntries puts resourcetype, isFolder, ishidden and
	// getcontenttype into file entries of an allprop PROPFIND, as the
	// MS-WDVMODUU example and emulators do; SharePoint Online leaves them
	// out (the default), so a client must not need them.
	FullFileEntries bool
	// NoChunkedUpload plays a SharePoint without the chunked upload API
	// (SharePoint 2013): StartUpload and its siblings answer 404 with
	// "Cannot find resource for the request StartUpload." The rest of the
	// REST API (contextinfo, AddUsingPath) works.
	NoChunkedUpload bool

	// --- Fields for the login and REST endpoints (login*.go, oauth*.go,
	// rest*.go). Their owners add fields below this line. ---

	// ThresholdOnAdd makes Files/AddUsingPath and Files/add on a folder
	// holding more than ListViewThreshold (5,000) items answer 500
	// SPQueryThrottledException, as an upload addressed through a large
	// folder has been seen to (OneDrive/onedrive-api-docs#1510, through
	// getfolderbyId(…)/files(…)); whether AddUsingPath does is [unc].
	ThresholdOnAdd bool
	// Hostile makes answers wrong on purpose (hostile.go): bad input from
	// the server for the client's tests. Server.SetHostile changes it.
	Hostile Hostile
}

// Faults are the injected failures and the traffic shaping. They can be
// changed while serving with Server.SetFaults. Rates are fractions in
// [0,1] of requests; one draw from the seeded generator per request
// decides throttle, fail or drop (in that order of the ranges).
type Faults struct {
	Latency        time.Duration // added before each request is handled
	Bandwidth      int64         // bytes/s per response (and request body), 0 = unlimited
	ThrottleRate   float64       // fraction of requests answered 429/503
	ThrottleStatus int           // 429 (default) or 503
	RetryAfter     int           // seconds in Retry-After (default 1)
	// ThrottleAs401 answers throttled requests with 401 and the body
	// "429 TOO MANY REQUESTS", as SharePoint Online has done
	// (OneDrive/onedrive-api-docs#799, SharePoint/sp-dev-docs#2547); whether
	// it still does is [unc]. Retry-After comes with it unless NoRetryAfter.
	ThrottleAs401 bool
	// NoRetryAfter leaves Retry-After out of throttling answers (a 429
	// without it has been captured from SharePoint Online
	// [obs: onedrive-api-docs#797]; how often is [unc]).
	NoRetryAfter bool
	// ThrottleJSON makes the throttling body Graph's JSON error
	// {"error":{"code":"activityLimitReached",…}} (application/json)
	// instead of the 21-byte text [obs: onedrive-api-docs#797, unc for SPO].
	ThrottleJSON bool
	FailRate     float64 // fraction answered with a 5xx (not throttling)
	// FailStatus is the status of an injected failure: 0 picks 500, 502
	// or 503 (without Retry-After) from the seeded generator.
	FailStatus int
	DropRate   float64 // fraction whose connection is cut mid-response
	// LostRate is the fraction of requests that are carried out in full
	// (an upload stored, a MOVE done, a chunk appended) and whose answer
	// is then lost: the connection is cut before any byte of it is sent,
	// as when a gateway times out after the back end committed. A client
	// must find out what happened instead of assuming either outcome.
	LostRate float64
	// Down makes the server unreachable: every connection is cut before
	// the request is read or carried out (a network outage, as opposed
	// to DropRate, which cuts a request without a body only after doing
	// it). Meant to be switched on and off with SetFaults.
	Down bool
}

// Default values.
const (
	DefaultListen    = "127.0.0.1:0"
	DefaultSite      = "/personal/alice_contoso_com"
	DefaultLibrary   = "Documents"
	DefaultUser      = "alice@contoso.com"
	DefaultCookieTTL = 24 * time.Hour
	DefaultPutLimit  = 262144000 // 250 MiB, SharePoint's request message limit
	// MaxPathLength is SharePoint's limit on a decoded server-relative path.
	MaxPathLength = 400
)

func (c *Config) fillDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Site == "" {
		c.Site = DefaultSite
	}
	if c.Site[0] != '/' {
		c.Site = "/" + c.Site
	}
	for len(c.Site) > 1 && c.Site[len(c.Site)-1] == '/' {
		c.Site = c.Site[:len(c.Site)-1]
	}
	if c.Site == "/" {
		c.Site = ""
	}
	if c.Library == "" {
		c.Library = DefaultLibrary
	}
	if c.Auth == "" {
		c.Auth = "cookie"
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.CookieTTL <= 0 {
		c.CookieTTL = DefaultCookieTTL
	}
	if c.PutLimit == 0 {
		c.PutLimit = DefaultPutLimit
	}
	if c.OverwriteStatus == 0 {
		c.OverwriteStatus = 204
	}
	if c.NameErrorStatus == 0 {
		c.NameErrorStatus = 400
	}
	c.Faults = c.Faults.normalized()
}

func (f Faults) normalized() Faults {
	if f.ThrottleStatus == 0 {
		f.ThrottleStatus = 429
	}
	if f.RetryAfter <= 0 {
		f.RetryAfter = 1
	}
	return f
}
