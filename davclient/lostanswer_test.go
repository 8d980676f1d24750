package davclient

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/odfb/odfb/remote"
	"github.com/odfb/odfb/spemu"
)

// Every verb whose answer is lost after the server carried it out (spemu's
// LoseAnswers: the request is done, the connection is cut before any byte
// of the answer) ends as doc.go's "Retry rules" say, and the library holds
// exactly what the caller sent: nothing deleted, truncated or doubled.
func TestLostAnswersAgainstSpemu(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	ctx := context.Background()
	content := func(p string) []byte {
		t.Helper()
		b, err := srv.ReadFile(p)
		if err != nil {
			t.Fatalf("%s on the server: %v", p, err)
		}
		return b
	}

	srv.LoseAnswers("MKCOL", "/d", 1)
	mustOK(t, c.Mkdir(ctx, "/d"))

	data := randBytes(7, 70_000)
	srv.LoseAnswers("PUT", "/d/a.bin", 1)
	_, err := c.Put(ctx, "/d/a.bin", bytes.NewReader(data), int64(len(data)), remote.PutOptions{})
	mustOK(t, err)
	if !bytes.Equal(content("/d/a.bin"), data) {
		t.Fatal("PUT whose answer was lost: wrong content on the server")
	}

	// A create-only PUT cannot tell its own lost success from someone
	// else's file: ErrPrecondition with the note, and the bytes are ours.
	srv.LoseAnswers("PUT", "/d/new.bin", 1)
	_, err = c.Put(ctx, "/d/new.bin", bytes.NewReader(data), int64(len(data)), remote.PutOptions{IfNoneMatch: true})
	wantKind(t, err, remote.ErrPrecondition)
	if !bytes.Equal(content("/d/new.bin"), data) {
		t.Fatal("create-only PUT whose answer was lost: wrong content on the server")
	}

	srv.LoseAnswers("MOVE", "/d/a.bin", 1)
	mustOK(t, c.Move(ctx, "/d/a.bin", "/d/b.bin", false))
	if !bytes.Equal(content("/d/b.bin"), data) {
		t.Fatal("MOVE whose answer was lost: destination content wrong")
	}
	if _, err := srv.ReadFile("/d/a.bin"); err == nil {
		t.Fatal("MOVE whose answer was lost: the source is still there")
	}

	srv.LoseAnswers("DELETE", "/d/new.bin", 1)
	mustOK(t, c.Delete(ctx, "/d/new.bin"))

	// Chunked upload over an existing file: a lost StartUpload, a lost
	// ContinueUpload and a lost FinishUpload answer.
	big := randBytes(8, 900_000)
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
	srv.LoseAnswers("POST", "StartUpload", 1)
	off, err := c.StartUpload(ctx, "/d/b.bin", id, bytes.NewReader(big[:300_000]), 300_000)
	mustOK(t, err)
	if !bytes.Equal(content("/d/b.bin"), data) {
		t.Fatal("StartUpload changed the existing file before FinishUpload")
	}
	srv.LoseAnswers("POST", "ContinueUpload", 1)
	off, err = c.ContinueUpload(ctx, "/d/b.bin", id, off, bytes.NewReader(big[off:600_000]), 600_000-off)
	mustOK(t, err)
	if off != 600_000 {
		t.Fatalf("ContinueUpload whose answer was lost confirmed %d, want 600000", off)
	}
	srv.LoseAnswers("POST", "FinishUpload", 1)
	_, err = c.FinishUpload(ctx, "/d/b.bin", id, off, bytes.NewReader(big[off:]), int64(len(big))-off)
	// doc.go: the session is gone, the caller starts over; the file holds
	// the whole new content, never a part of it.
	if err != nil && !errors.Is(err, remote.ErrUploadGone) {
		t.Fatalf("FinishUpload whose answer was lost: %v", err)
	}
	if !bytes.Equal(content("/d/b.bin"), big) {
		t.Fatal("FinishUpload whose answer was lost: the file does not hold the uploaded bytes")
	}
	for _, r := range srv.Requests() {
		if r.Fault == "lost" && r.Status/100 != 2 {
			t.Errorf("the lost request %s %s was not carried out (status %d): the test proves nothing", r.Method, r.Path, r.Status)
		}
	}
}

// When the client gives a session up (ErrUploadGone because the server
// expects another offset) while the server still holds it open, the
// session's upload lock must not outlive it: the caller starts over with
// a new upload id, and SharePoint refuses StartUpload on a file another
// session still locks (spemu: 423) for up to the session's 30 minutes.
func TestGivenUpSessionIsCancelled(t *testing.T) {
	srv, tg := startSpemu(t, spemu.Config{})
	c := newTestClient(t, tg)
	ctx := context.Background()
	data := randBytes(9, 90_000)
	const idA, idB = "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "6fa459ea-ee8a-3ca4-894e-db77e160355e"
	off, err := c.StartUpload(ctx, "/f.bin", idA, bytes.NewReader(data[:30_000]), 30_000)
	mustOK(t, err)
	// A stale offset (say, from a journal that lost track): the session
	// is useless to the caller.
	_, err = c.ContinueUpload(ctx, "/f.bin", idA, off+10, bytes.NewReader(data[off+10:60_000]), 60_000-off-10)
	wantKind(t, err, remote.ErrUploadGone)
	if n := srv.UploadSessions(); n != 0 {
		t.Errorf("%d upload sessions still open after ErrUploadGone, want 0 (its lock blocks the fresh start)", n)
	}
	upload(t, c, "/f.bin", idB, data, 40_000)
	if b, err := srv.ReadFile("/f.bin"); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("after starting over: %d bytes, %v", len(b), err)
	}
}
