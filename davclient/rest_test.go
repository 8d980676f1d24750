package davclient

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/odfb/odfb/remote"
)

// restFake answers contextinfo and GetUploadStatus, and ContinueUpload
// with the handlers in order.
func restFake(expected string, cont ...http.HandlerFunc) (http.HandlerFunc, *atomic.Int32) {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json;odata=verbose")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_api/contextinfo"):
			io.WriteString(w, `{"d":{"GetContextWebInformation":{"FormDigestTimeoutSeconds":1800,"FormDigestValue":"0xAB,01 Jan 2026 00:00:00 -0000"}}}`)
		case strings.Contains(r.URL.Path, "/GetUploadStatus("):
			io.WriteString(w, `{"d":{"GetUploadStatus":{"ExpectedContentRange":"`+expected+`","UploadId":"x"}}}`)
		case strings.Contains(r.URL.Path, "/ContinueUpload("):
			if r.Header.Get("X-RequestDigest") == "" {
				w.WriteHeader(403)
				return
			}
			i := int(n.Add(1)) - 1
			cont[min(i, len(cont)-1)](w, r)
		default:
			w.WriteHeader(404)
		}
	}, &n
}

func offsetMismatch(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;odata=verbose")
	w.WriteHeader(400)
	io.WriteString(w, `{"error":{"code":"-2147024809, System.ArgumentException","message":{"lang":"en-US","value":"The file offset does not match."}}}`)
}

func TestContinueUploadAfterLostAnswer(t *testing.T) {
	ctx := context.Background()
	const id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
	chunk := bytes.NewReader(make([]byte, 100))

	// The first attempt was applied, its answer lost; the retry is refused
	// for its offset, and GetUploadStatus shows the chunk is in.
	h, n := restFake("200-", hangUp, offsetMismatch)
	c := scriptedClient(t, &scripted{steps: []http.HandlerFunc{h}}, nil)
	off, err := c.ContinueUpload(ctx, "/f.bin", id, 100, chunk, 100)
	mustOK(t, err)
	if off != 200 || n.Load() != 2 {
		t.Fatalf("offset %d after %d attempts", off, n.Load())
	}
	// A previous process died after the server took the chunk but before it
	// saved the offset: the server holds exactly this chunk, so it counts.
	h, _ = restFake("200-", offsetMismatch)
	c = scriptedClient(t, &scripted{steps: []http.HandlerFunc{h}}, nil)
	off, err = c.ContinueUpload(ctx, "/f.bin", id, 100, chunk, 100)
	mustOK(t, err)
	if off != 200 {
		t.Fatalf("offset %d", off)
	}
	got, err := c.UploadOffset(ctx, "/f.bin", id)
	mustOK(t, err)
	if got != 200 {
		t.Fatalf("UploadOffset %d", got)
	}
	// Lost answer, but the server expects another offset: gone.
	h, _ = restFake("100-", hangUp, offsetMismatch)
	c = scriptedClient(t, &scripted{steps: []http.HandlerFunc{h}}, nil)
	_, err = c.ContinueUpload(ctx, "/f.bin", id, 100, chunk, 100)
	wantKind(t, err, remote.ErrUploadGone)
	if !strings.Contains(err.Error(), "expects offset 100") {
		t.Fatalf("error does not say where the server is: %v", err)
	}
}

func TestRESTPathEncoding(t *testing.T) {
	c, err := New(Options{URL: "https://contoso-my.sharepoint.com/personal/alice_contoso_com/Documents"})
	mustOK(t, err)
	got := c.restURL(c.fileAPI("/dir #1/O'Brien 100%.txt") + "/StartUpload(uploadId=guid'x')")
	want := "https://contoso-my.sharepoint.com/personal/alice_contoso_com/_api/web/GetFileByServerRelativePath(decodedurl='/personal/alice_contoso_com/Documents/dir%20%231/O''Brien%20100%25.txt')/StartUpload(uploadId=guid'x')"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	c, err = New(Options{URL: "https://h/sites/team/Shared%20Documents", WebURL: "https://h/sites/team/"})
	mustOK(t, err)
	if got := c.restURL("contextinfo"); got != "https://h/sites/team/_api/contextinfo" {
		t.Fatal(got)
	}
	if got := c.serverRelative("/a"); got != "/sites/team/Shared Documents/a" {
		t.Fatal(got)
	}
}
