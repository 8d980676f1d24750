// Package spemu emulates one SharePoint Online document library: the
// WebDAV dialect SharePoint speaks, its names and limits, cookie
// authentication, throttling and other faults, and a request log. It
// serves a local directory, so benchmarks can push real multi-GB files,
// and it also runs as a plain (anonymous or Basic) WebDAV server for
// independent tools such as litmus, rclone and davfs2.
//
// It owns the emulated server only; it must not import any client package
// of odfb (davclient, cache, fusefs): it is the independent party the
// client is tested against. docs/spemu.md is the user documentation.
//
// # Store
//
// Files are plain files under Config.Root. spemu's own state lives in
// Root/_vti_pvt/ ("_vti_" is refused in every SharePoint name, so no
// client can create, list or address it): meta.json with, per item keyed
// by the case-folded library path, the GUID, the write version N of the
// ETag `"{GUID},N"`, the size and mtime last seen, creationdate, dead
// properties (including the Win32* ones PROPPATCH stores) and the lock;
// and tmp/, where uploads are streamed before they are renamed into place.
// meta.json is written at most every 300 ms and on Close; a file changed
// on disk while spemu was stopped (or behind its back) is noticed by its
// size/mtime and gets a new ETag version. Lookups are case-insensitive
// and case-preserving: a PUT of "b.txt" over "B.TXT" replaces the content
// and keeps the stored name.
//
// Decisions for behaviour the protocol reference leaves open ([unc]), each
// a Config switch: Depth: infinity is refused with 403
// propfind-finite-depth (AllowInfiniteDepth); a replacing PUT answers 204
// (OverwriteStatus); refused names answer 400 with X-MSDAVEXT_Error
// (NameErrorStatus); only exclusive write locks exist (a shared LOCK
// gets 412), timeouts are capped at 3600 s; OPTIONS needs no
// authentication; the shape of throttling (Faults.ThrottleAs401,
// NoRetryAfter, ThrottleJSON); which client ids the token exchange takes
// (LoginConfig.ExchangeClientIDs, ExchangeAbsent) and whether WebDAV
// takes Bearer (BearerOnDAV).
//
// Config.Hostile (hostile.go, Server.SetHostile) is the opposite of
// fidelity: answers no SharePoint sends (hrefs leaving the library,
// duplicates, huge documents, wrong types, negative sizes, far dates,
// truncated bodies, a wrong Content-Range, bodies longer than announced),
// so that the client's refusal of each is tested.
//
// Where SharePoint Online's behaviour is known, spemu follows it by
// default (docs/sharepoint.md): hrefs are absolute, folders end with "/"
// and [ ] ( ) stay raw; allprop file entries are bare (FullFileEntries
// for the full shape); a folder's ETag version moves when its content
// changes; STS tokens live 24 h; Accept: application/json gets minimal
// metadata.
//
// Reason phrases: SharePoint answers HTTP/1.1 with upper-case phrases
// ("207 MULTI-STATUS"). net/http cannot be told the phrase, so the
// listener of Start wraps each connection and rewrites the status line
// of each response as it is written (see phraseConn). Handler() served by
// httptest gives Go's own phrases. Config.PlainReasonPhrases turns the
// rewriting off.
//
// # Extension points (REST and login endpoints live in other files)
//
// Routing: every request first runs through the common part (request
// record, SharePoint's headers, faults), then the registered routes are
// tried in order, then the library's WebDAV handler. A file rest*.go,
// login*.go or oauth*.go adds endpoints from an init function:
//
//	func init() {
//		registerRoute(Route{Name: "rest", Prefix: "/_api", SiteRelative: true,
//			Handler: (*Server).serveREST})
//		registerRoute(Route{Name: "extsts", Prefix: "/extSTS.srf", Public: true,
//			Handler: (*Server).serveExtSTS})
//		registerRoute(Route{Name: "token", Public: true, Handler: (*Server).serveToken,
//			Match: func(s *Server, p string) bool { return strings.HasSuffix(p, "/oauth2/v2.0/token") }})
//	}
//
// Non-public routes are authenticated exactly like WebDAV before the
// handler runs (s.authenticate writes the refusal). Handlers write
// errors with s.writeError (store errors → status) or their own bodies.
//
// Authentication: registerAuthHook(h) adds a scheme (Bearer) consulted
// before the configured mode's check; see authHook for the contract.
// Sessions: s.Sessions().Issue(CookieFedAuth|CookieRtFa|CookieSPOIDCRL,
// user, ttl) returns a cookie value; Validate checks one; ExpireAll ends
// all. A request is cookie-authenticated by a live FedAuth or SPOIDCRL.
// s.baseFor(r) is the scheme+host for absolute URLs.
//
// Store methods for REST uploads (all take library paths like "/dir/a.txt";
// s.libPrefix is Site+"/"+Library, strip it from server-relative URLs):
//
//   - s.st.Stat(p) (Item, error), s.st.List(p), s.st.Open(p) — Item has
//     Path (stored case), Name, IsDir, Size, Modified, Created, GUID,
//     Version and ETag().
//   - s.checkNewPath(p, isDir) — name and 400-character path rules
//     (*NameError; s.writeError answers it).
//   - s.st.TempFile() — a file in _vti_pvt/tmp for chunks in progress
//     (keep one per upload session; remove it on CancelUpload).
//   - s.st.CommitFile(p, tmpPath, check) — atomically renames the upload
//     into place, creating or replacing, bumps the ETag version; check
//     runs under the store lock with the current item (If-Match, locks:
//     s.checkConditions(r, p, cur, exists) does both for a request).
//   - s.st.WriteStream(p, body, limit, check) — stream + commit in one
//     call (AddUsingPath, $value); limit < 0 = none; errTooLarge past it.
//   - s.afterUpload(item) after a commit — applies the rewrite of Office
//     files (and Config.RewriteExts), at once or after Config.RewriteDelay.
//   - s.st.Mkdir(p), s.st.Remove(p), s.st.MoveCopy(...).
//
// Per-server state: s.extState(key, create) keeps state on the Server
// (key: a private type of the file), freed with it; s.onClose(fn) runs fn
// at Close (remove upload temp files, stop timers).
//
// Config fields for those endpoints go in the marked section at the end
// of Config (config.go); New fills no defaults for them, so their zero
// values must mean "the likely real behaviour".
//
// # Request log
//
// Each request produces one RequestRecord, kept in memory (all of them,
// or the last Config.RequestLogLimit) and written as a JSON line to
// Config.RequestLog. Secrets never enter it: only the auth kind is logged.
package spemu
