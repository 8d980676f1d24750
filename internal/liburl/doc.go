// Package liburl turns the addresses users copy from a browser into the
// URL of the SharePoint document library they point into:
//
//   - a library view: …/Shared%20Documents/Forms/AllItems.aspx?… →
//     …/Shared%20Documents
//   - the OneDrive/library web app: …/_layouts/15/onedrive.aspx?id=/personal/alice/Documents/Folder
//     (or ?RootFolder=…) → …/personal/alice/Documents; without an id, a
//     personal site's onedrive.aspx is its Documents library
//   - a sharing-style link with the path in it: https://host/:f:/r/sites/team/Shared%20Documents/Folder?…
//     (and :w:, :x:, :p:, :b:, :u:, :i:, :v: links to files) → the library
//
// A URL with none of these marks (a library, a folder in one, any other
// WebDAV server) is returned as it is. A site's own address (its root,
// …/SitePages/Home.aspx, …/_layouts/15/viewlsts.aspx) is recognised as a
// site, not a library. Anything else that is plainly a page — a list
// (…/Lists/…), a settings page, a sharing link that hides its path
// behind a token (…/:f:/s/…, :f:/g/…) — is an error that says what to
// copy instead.
//
// Which path segment is the library comes from SharePoint's URL layout:
// sites live at /sites/NAME, /teams/NAME or /personal/NAME (or the root
// site, /), a library is the segment after its site, and a _layouts
// address names its site (web) in the part before /_layouts/. A library
// in a subsite is found only from a _layouts address (or given as is).
//
// It does no I/O: listing a site's libraries is the caller's (cmd/odfb
// with davclient.DocumentLibraries).
package liburl
