package davclient

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odfb/odfb/spemu"
)

// TestChunkedUploadIntoFolderOverThreshold: where SharePoint refuses a
// call through a folder over the list-view threshold (spemu's
// ThresholdOnAdd, [unc] for AddUsingPath), a chunked upload of a new file
// creates it with a PUT instead, once, and the upload goes on; without
// the refusal AddUsingPath is used as before.
func TestChunkedUploadIntoFolderOverThreshold(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("threshold=%v", refuse), func(t *testing.T) {
			root := t.TempDir()
			big := filepath.Join(root, "big")
			mustOK(t, os.Mkdir(big, 0o755))
			for i := range spemu.ListViewThreshold + 1 {
				mustOK(t, os.WriteFile(filepath.Join(big, fmt.Sprintf("f%05d", i)), nil, 0o644))
			}
			srv, tg := startSpemu(t, spemu.Config{Root: root, ThresholdOnAdd: refuse})
			c := newTestClient(t, tg)
			ctx := context.Background()
			id := "0f0e0d0c-0b0a-4908-8706-050403020100"
			data := []byte("chunked content")
			_, err := c.StartUpload(ctx, "/big/new.bin", id, bytes.NewReader(data[:5]), 5)
			mustOK(t, err)
			_, err = c.FinishUpload(ctx, "/big/new.bin", id, 5, bytes.NewReader(data[5:]), int64(len(data)-5))
			mustOK(t, err)
			got, err := srv.ReadFile("/big/new.bin")
			mustOK(t, err)
			if string(got) != string(data) {
				t.Fatalf("server holds %q", got)
			}
			var adds, addFails, puts int
			for _, r := range srv.Requests() {
				switch {
				case strings.Contains(r.Path, "AddUsingPath") && r.Status == 500:
					addFails++
				case strings.Contains(r.Path, "AddUsingPath"):
					adds++
				case r.Method == "PUT":
					puts++
				}
			}
			if refuse && (addFails != 1 || puts != 1 || adds != 0) {
				t.Errorf("over the threshold: %d refused AddUsingPath, %d PUT, %d AddUsingPath; want 1, 1, 0", addFails, puts, adds)
			}
			if !refuse && (adds != 1 || puts != 0 || addFails != 0) {
				t.Errorf("without the refusal: %d AddUsingPath, %d PUT; want 1, 0", adds, puts)
			}
		})
	}
}
