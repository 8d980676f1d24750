// Package auth holds the ways odfb proves who it is to SharePoint Online
// or a plain WebDAV server, behind the one Authenticator interface that
// davclient calls.
//
// It owns credential material and its renewal: static cookies, cookie
// files and commands, basic auth, and (see the README's "Logging in") the
// SAML and OAuth strategies. It must not know about FUSE, bbolt or the
// cache, and it never writes a secret to a log, an error or argv.
package auth
