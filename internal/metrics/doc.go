// Package metrics serves a mount's Prometheus metrics (odfb mount
// --metrics-addr) through the official Go client library.
//
// It observes the other layers from outside, with no change to how they
// work: an http.RoundTripper wrapper (davclient.Options.WrapTransport)
// counts requests by verb and status and the bytes sent and received;
// davclient.Options.OnThrottle reports throttled answers and the waits
// they caused; an auth.Authenticator wrapper counts renewals of the
// sign-in and their failures; fusefs.Options.OnRead reports content
// cache hits and misses; and the upload queue, lost+found, conflict
// copies and cache size are read from the cache's status at each scrape
// (a Snapshot function). Every metric carries a "library" label, so one
// process serving several libraries keeps them apart.
//
// The package imports neither cache nor fusefs: cmd/odfb wires it.
package metrics
