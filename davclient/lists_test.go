package davclient_test

import (
	"context"
	"testing"

	"github.com/odfb/odfb/davclient"
	"github.com/odfb/odfb/fusefs/fstest"
	"github.com/odfb/odfb/spemu"
)

// TestDocumentLibraries lists a site's document libraries from spemu:
// the visible library only (not Site Pages, not the hidden library),
// with its escaped URL.
func TestDocumentLibraries(t *testing.T) {
	srv := fstest.StartSpemu(t, spemu.Config{Auth: "none", Site: "/sites/team", Library: "Team Files"})
	site := srv.URL() + "/sites/team"
	c, err := davclient.New(davclient.Options{URL: site, WebURL: site})
	if err != nil {
		t.Fatal(err)
	}
	libs, err := c.DocumentLibraries(context.Background())
	if err != nil || len(libs) != 1 || libs[0].Title != "Team Files" || libs[0].URL != srv.LibraryURL() {
		t.Fatalf("libraries %+v %v; want Team Files at %s", libs, err, srv.LibraryURL())
	}
}
