package davclient

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/odfb/odfb/remote"
)

func TestStatusErrorKinds(t *testing.T) {
	const iis = `<html><head><title>404 - File or directory not found.</title></head><body>
<h3>HTTP Error 404.13 - Not Found</h3><p>The request filtering module is configured to deny a request that exceeds the request content length.</p></body></html>`
	for _, c := range []struct {
		op     string
		status int
		body   string
		want   error
	}{
		{"PUT", 404, iis, remote.ErrTooLarge},
		{"PUT", 404, "", remote.ErrNotFound},
		{"GET", 404, iis, remote.ErrNotFound},
		{"PUT", 413, "", remote.ErrTooLarge},
		{"PUT", 412, "", remote.ErrPrecondition},
		{"MKCOL", 405, "", remote.ErrExists},
		{"PUT", 507, "", remote.ErrTooLarge},
	} {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader(c.body))}
		err := statusError(c.op, "/a.bin", resp)
		if !errors.Is(err, c.want) {
			t.Errorf("%s %d (%d-byte body) = %v, want %v", c.op, c.status, len(c.body), err, c.want)
		}
	}
}
