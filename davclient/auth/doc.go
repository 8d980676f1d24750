// Package auth holds the ways odfb proves who it is to SharePoint Online
// or a plain WebDAV server, behind the one Authenticator interface that
// davclient calls.
//
// It owns credential material and its renewal: static cookies, cookie
// files and commands, cookies read from a browser's own store
// (browser.go), basic auth, and (see the README's "Logging in") the SAML
// and OAuth strategies. It must not know about FUSE, bbolt or the cache,
// and it never writes a secret to a log, an error or argv.
//
// It also reads SharePoint's and Entra ID's answers the way they are
// meant (answers.go): a 401 that is throttling is not a refusal, and a
// refusal's reason (x-ms-diagnostics, error_description) is carried.
// Sign-in failures that a person must act on are StepErrors (steps.go)
// naming the step — token, exchange or cookie — and what to try next;
// AADSTS codes get their advice from aadsts.go. The authority of a
// national cloud follows from the library's host (clouds.go).
package auth
