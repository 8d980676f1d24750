package version

// Version is replaced at link time; "dev" for plain `go build`.
var Version = "dev"

// UserAgent is decorated the way Microsoft asks of unattended traffic
// (NONISV|Company|App/Version). It must never look like a browser: a
// browser User-Agent makes SharePoint answer WebDAV with HTML redirects.
func UserAgent() string { return "NONISV|odfb|odfb/" + Version }
