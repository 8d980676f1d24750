package contract

import (
	"bytes"
	"context"
	"testing"

	"github.com/odfb/odfb/remote"
)

// uploadOffsetter is the optional question "where does this session
// stand", which the cache asks before resuming (davclient.Client and the
// Fake answer it).
type uploadOffsetter interface {
	UploadOffset(ctx context.Context, path, uploadID string) (int64, error)
}

// chunkSize is small so that every case sends several chunks.
const chunkSize = 64 << 10

// Chunked uploads: start, continue, resume, finish, cancel, wrong
// offsets. With Options.Chunked false every case checks the fallback
// instead: ErrNotSupported and nothing written.
var chunkedCases = []testCase{
	{"NewFile", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/new #%.bin"
		data := randBytes(40, 5*chunkSize+123)
		id := "7c9e6679-7425-40de-944b-e07fc1f90ae7"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		if off != chunkSize {
			t.Fatalf("StartUpload confirmed %d, want %d", off, chunkSize)
		}
		// Before FinishUpload a new file exists, empty.
		h.wantFile(t, p, 0)
		for off+chunkSize < int64(len(data)) {
			next, err := cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
			mustOK(t, err)
			if next != off+chunkSize {
				t.Fatalf("ContinueUpload at %d confirmed %d, want %d", off, next, off+chunkSize)
			}
			off = next
		}
		h.wantFile(t, p, 0)
		etag, err := cu.FinishUpload(ctx, p, id, off, bytes.NewReader(data[off:]), int64(len(data))-off)
		mustOK(t, err)
		h.wantContent(t, p, data)
		e := h.wantFile(t, p, int64(len(data)))
		if etag == "" || stripWeak(etag) != stripWeak(e.ETag) {
			t.Fatalf("FinishUpload ETag %q, Stat says %q", etag, e.ETag)
		}
	})},
	{"ExistingFileUnchangedUntilFinish", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/existing.bin"
		orig := []byte("the original content")
		h.put(t, p, orig)
		data := randBytes(41, 3*chunkSize)
		id := "16fd2706-8baf-433b-82eb-8c7fada847da"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		h.wantContent(t, p, orig)
		off, err = cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:2*chunkSize]), chunkSize)
		mustOK(t, err)
		h.wantContent(t, p, orig)
		// The whole rest in FinishUpload.
		_, err = cu.FinishUpload(ctx, p, id, off, bytes.NewReader(data[off:]), int64(len(data))-off)
		mustOK(t, err)
		h.wantContent(t, p, data)
		wantNames(t, dir, h.names(t, dir), "existing.bin")
	})},
	{"FinishWithNoBytes", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/one chunk.bin"
		data := randBytes(42, chunkSize)
		id := "886313e1-3b8a-4372-9b90-0c9aee199e5d"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data), chunkSize)
		mustOK(t, err)
		_, err = cu.FinishUpload(ctx, p, id, off, bytes.NewReader(nil), 0)
		mustOK(t, err)
		h.wantContent(t, p, data)
	})},
	{"ResumeFromConfirmedOffset", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/resume.bin"
		data := randBytes(43, 4*chunkSize+7)
		id := "a8098c1a-f86e-41da-bd1a-00112444be1e"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		off, err = cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
		mustOK(t, err)
		// A restarted process: a new client with only the id and the
		// confirmed offset it saved.
		r2 := h.s.Connect()
		cu2, ok := r2.(remote.ChunkedUploader)
		if !ok {
			t.Fatalf("a second client (%T) is no ChunkedUploader", r2)
		}
		if uo, ok := r2.(uploadOffsetter); ok {
			got, err := uo.UploadOffset(ctx, p, id)
			mustOK(t, err)
			if got != off {
				t.Fatalf("UploadOffset = %d, want the confirmed %d", got, off)
			}
			_, err = uo.UploadOffset(ctx, p, "00000000-1111-4222-8333-444444444444")
			wantKind(t, "UploadOffset of an unknown session", err, remote.ErrUploadGone)
		} else {
			t.Logf("%T has no UploadOffset: the caller resumes from the offset it saved", r2)
		}
		off, err = cu2.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
		mustOK(t, err)
		_, err = cu2.FinishUpload(ctx, p, id, off, bytes.NewReader(data[off:]), int64(len(data))-off)
		mustOK(t, err)
		h.wantContent(t, p, data)
	})},
	{"ResendLastChunk", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		// The answer to a chunk was lost: the caller sends it again from
		// the offset it had saved, and the server's offset is the answer.
		p := dir + "/resend.bin"
		data := randBytes(44, 3*chunkSize)
		id := "e7a1c9f2-1111-4222-8333-944455556666"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		next, err := cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
		mustOK(t, err)
		again, err := cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
		mustOK(t, err)
		if again != next {
			t.Fatalf("the chunk sent again confirmed %d, want %d", again, next)
		}
		_, err = cu.FinishUpload(ctx, p, id, next, bytes.NewReader(data[next:]), int64(len(data))-next)
		mustOK(t, err)
		h.wantContent(t, p, data)
	})},
	{"WrongOffset", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/wrong.bin"
		orig := []byte("kept")
		h.put(t, p, orig)
		data := randBytes(45, 4*chunkSize)
		id := "0f8fad5b-d9cb-469f-a165-70867728950e"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		// A chunk ahead of the confirmed offset is refused, not applied,
		// and the session is over: the caller starts again with a new id.
		_, err = cu.ContinueUpload(ctx, p, id, off+100, bytes.NewReader(data[off+100:off+100+chunkSize]), chunkSize)
		wantKind(t, "ContinueUpload at a wrong offset", err, remote.ErrUploadGone)
		_, err = cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
		wantKind(t, "ContinueUpload after the session ended", err, remote.ErrUploadGone)
		h.wantContent(t, p, orig)
		// FinishUpload at a wrong offset likewise.
		id2 := "b3b1c5d8-2222-4333-8444-555566667777"
		off, err = cu.StartUpload(ctx, p, id2, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		_, err = cu.FinishUpload(ctx, p, id2, off+chunkSize, bytes.NewReader(data[off+chunkSize:]), int64(len(data))-off-chunkSize)
		wantKind(t, "FinishUpload at a wrong offset", err, remote.ErrUploadGone)
		h.wantContent(t, p, orig)
		// Unknown ids.
		_, err = cu.ContinueUpload(ctx, p, "c0ffee00-3333-4444-8555-666677778888", chunkSize, bytes.NewReader(data[:10]), 10)
		wantKind(t, "ContinueUpload of an unknown session", err, remote.ErrUploadGone)
		_, err = cu.FinishUpload(ctx, p, "c0ffee00-3333-4444-8555-666677778888", chunkSize, bytes.NewReader(data[:10]), 10)
		wantKind(t, "FinishUpload of an unknown session", err, remote.ErrUploadGone)
		h.wantContent(t, p, orig)
		// Starting over works.
		id3 := "d4e5f6a7-4444-4555-8666-777788889999"
		off, err = cu.StartUpload(ctx, p, id3, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		_, err = cu.FinishUpload(ctx, p, id3, off, bytes.NewReader(data[off:]), int64(len(data))-off)
		mustOK(t, err)
		h.wantContent(t, p, data)
	})},
	{"Cancel", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/cancel.bin"
		orig := []byte("stays as it was")
		h.put(t, p, orig)
		data := randBytes(46, 2*chunkSize)
		id := "f1e2d3c4-5555-4666-8777-888899990000"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		mustOK(t, cu.CancelUpload(ctx, p, id))
		h.wantContent(t, p, orig)
		_, err = cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:]), chunkSize)
		wantKind(t, "ContinueUpload after CancelUpload", err, remote.ErrUploadGone)
		h.wantContent(t, p, orig)
		// Cancelling again, or a session never started, is not an error.
		mustOK(t, cu.CancelUpload(ctx, p, id))
		mustOK(t, cu.CancelUpload(ctx, p, "12345678-6666-4777-8888-999900001111"))
		// The file can be written again at once (a cancelled session
		// holds no lock).
		h.put(t, p, []byte("after"))
		h.wantContent(t, p, []byte("after"))
	})},
	{"Expired", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		// The server forgot the session (30 minutes without a chunk):
		// every call with its id says so, the file is as it was, and a
		// new session with a new id works.
		p := dir + "/expired.bin"
		orig := []byte("before")
		h.put(t, p, orig)
		data := randBytes(47, 3*chunkSize)
		id := "5a6b7c8d-8888-4999-8aaa-bbbbccccdddd"
		off, err := cu.StartUpload(ctx, p, id, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		h.s.ExpireUploads()
		if uo, ok := h.r.(uploadOffsetter); ok {
			_, err := uo.UploadOffset(ctx, p, id)
			wantKind(t, "UploadOffset of an expired session", err, remote.ErrUploadGone)
		}
		_, err = cu.ContinueUpload(ctx, p, id, off, bytes.NewReader(data[off:off+chunkSize]), chunkSize)
		wantKind(t, "ContinueUpload of an expired session", err, remote.ErrUploadGone)
		_, err = cu.FinishUpload(ctx, p, id, off, bytes.NewReader(data[off:]), int64(len(data))-off)
		wantKind(t, "FinishUpload of an expired session", err, remote.ErrUploadGone)
		h.wantContent(t, p, orig)
		id2 := "6b7c8d9e-9999-4aaa-8bbb-ccccddddeeee"
		off, err = cu.StartUpload(ctx, p, id2, bytes.NewReader(data[:chunkSize]), chunkSize)
		mustOK(t, err)
		_, err = cu.FinishUpload(ctx, p, id2, off, bytes.NewReader(data[off:]), int64(len(data))-off)
		mustOK(t, err)
		h.wantContent(t, p, data)
	})},
	{"MissingParent", chunked(func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string) {
		p := dir + "/no such folder/x.bin"
		_, err := cu.StartUpload(ctx, p, "0a1b2c3d-7777-4888-8999-000011112222", bytes.NewReader([]byte("0123456789")), 10)
		wantKind(t, "StartUpload into a missing folder", err, remote.ErrConflict)
		h.wantGone(t, dir+"/no such folder")
	})},
}

// chunked runs fn when the implementation has working chunked uploads,
// and otherwise checks the documented fallback: the remote is no
// ChunkedUploader (the cache then sends the file with Put or to
// lost+found as too large), or every method answers ErrNotSupported and
// nothing is written.
func chunked(fn func(h *harness, t *testing.T, cu remote.ChunkedUploader, dir string)) func(*harness, *testing.T, string) {
	return func(h *harness, t *testing.T, dir string) {
		cu, ok := h.r.(remote.ChunkedUploader)
		if h.o.Chunked {
			if !ok {
				t.Fatalf("%T is no remote.ChunkedUploader but Options.Chunked is set", h.r)
			}
			fn(h, t, cu, dir)
			return
		}
		if !ok {
			t.Logf("%T has no chunked upload (no remote.ChunkedUploader): the documented fallback", h.r)
			return
		}
		h.chunkedNotSupported(t, cu, dir)
	}
}

func (h *harness) chunkedNotSupported(t *testing.T, cu remote.ChunkedUploader, dir string) {
	p := dir + "/big.bin"
	existing := dir + "/existing.bin"
	h.put(t, existing, []byte("kept"))
	id := "0f8fad5b-d9cb-469f-a165-70867728950e"
	chunk := bytes.NewReader([]byte("0123456789"))
	for _, q := range []string{p, existing} {
		_, err := cu.StartUpload(ctx, q, id, chunk, 10)
		wantKind(t, "StartUpload without chunked uploads", err, remote.ErrNotSupported)
		_, err = cu.ContinueUpload(ctx, q, id, 10, chunk, 10)
		wantKind(t, "ContinueUpload without chunked uploads", err, remote.ErrNotSupported)
		_, err = cu.FinishUpload(ctx, q, id, 10, chunk, 10)
		wantKind(t, "FinishUpload without chunked uploads", err, remote.ErrNotSupported)
		wantKind(t, "CancelUpload without chunked uploads", cu.CancelUpload(ctx, q, id), remote.ErrNotSupported)
		if uo, ok := h.r.(uploadOffsetter); ok {
			_, err = uo.UploadOffset(ctx, q, id)
			wantKind(t, "UploadOffset without chunked uploads", err, remote.ErrNotSupported)
		}
	}
	h.wantGone(t, p)
	h.wantContent(t, existing, []byte("kept"))
	wantNames(t, dir, h.names(t, dir), "existing.bin")
}
