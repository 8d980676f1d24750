package remotetest

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/odfb/odfb/remote"
)

// upload is one chunked upload session: the bytes the fake has
// confirmed so far, kept apart from the file until FinishUpload.
type upload struct {
	path string // as given to StartUpload
	data []byte
}

// SetChunked turns the fake's chunked uploads on (the default, as
// SharePoint's REST API) or off, when every ChunkedUploader method
// answers ErrNotSupported, as davclient does against a plain WebDAV
// server.
func (f *Fake) SetChunked(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noChunks = !on
}

// Uploads returns the number of open upload sessions.
func (f *Fake) Uploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.uploads)
}

// ExpireUploads forgets every open upload session, as SharePoint does
// with a session left alone for about 30 minutes.
func (f *Fake) ExpireUploads() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.uploads)
}

// beginChunk is begin for the ChunkedUploader methods: the injected
// failure, else ErrNotSupported when chunked uploads are off.
func (f *Fake) beginChunk(method, p string) error {
	if err := f.begin(method, p); err != nil {
		return err
	}
	if f.noChunks {
		return &remote.Error{Kind: remote.ErrNotSupported, Op: method, Path: p, Detail: "the fake's chunked uploads are off"}
	}
	return nil
}

func readChunk(chunk io.ReaderAt, n int64) ([]byte, error) {
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if _, err := chunk.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

func uploadGone(op, p, why string) error {
	return &remote.Error{Kind: remote.ErrUploadGone, Op: op, Path: p, Detail: why}
}

// StartUpload implements remote.ChunkedUploader: it creates an empty file
// when none exists and opens a session holding the first chunk. Starting
// again with the same id starts that session over.
func (f *Fake) StartUpload(_ context.Context, p, uploadID string, chunk io.ReaderAt, n int64) (int64, error) {
	b, err := readChunk(chunk, n)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginChunk("StartUpload", p); err != nil {
		return 0, err
	}
	if err := f.parentLocked("StartUpload", p); err != nil {
		return 0, err
	}
	o, exists := f.objs[fold(p)]
	if exists && o.entry.IsDir {
		return 0, &remote.Error{Kind: remote.ErrExists, Op: "StartUpload", Path: p, Detail: "a folder has that name"}
	}
	if !exists {
		t := f.Now().Truncate(time.Second)
		f.objs[fold(p)] = &object{entry: remote.Entry{Path: f.storedLocked(p), ModTime: t, ServerModTime: t, ETag: f.nextETag()}}
	}
	f.uploads[uploadID] = &upload{path: remote.Clean(p), data: b}
	return n, nil
}

// sessionLocked finds the session id for a chunk at offset. A chunk that
// ends where the session stands is the last one sent again (its answer
// was lost): ok is false and the caller answers the current offset. Any
// other offset ends the session.
func (f *Fake) sessionLocked(op, p, id string, offset, n int64) (u *upload, resent bool, err error) {
	u = f.uploads[id]
	if u == nil || fold(u.path) != fold(p) {
		return nil, false, uploadGone(op, p, "no such upload session")
	}
	have := int64(len(u.data))
	switch {
	case offset == have:
		return u, false, nil
	case offset+n == have && offset >= 0:
		return u, true, nil
	}
	delete(f.uploads, id)
	return nil, false, uploadGone(op, p, "the server holds a different offset")
}

// ContinueUpload implements remote.ChunkedUploader.
func (f *Fake) ContinueUpload(_ context.Context, p, uploadID string, offset int64, chunk io.ReaderAt, n int64) (int64, error) {
	b, err := readChunk(chunk, n)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginChunk("ContinueUpload", p); err != nil {
		return 0, err
	}
	u, resent, err := f.sessionLocked("ContinueUpload", p, uploadID, offset, n)
	if err != nil {
		return 0, err
	}
	if !resent {
		u.data = append(u.data, b...)
	}
	return int64(len(u.data)), nil
}

// FinishUpload implements remote.ChunkedUploader: the file takes the
// session's bytes and a new ETag.
func (f *Fake) FinishUpload(_ context.Context, p, uploadID string, offset int64, chunk io.ReaderAt, n int64) (string, error) {
	b, err := readChunk(chunk, n)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginChunk("FinishUpload", p); err != nil {
		return "", err
	}
	u := f.uploads[uploadID]
	if u == nil || fold(u.path) != fold(p) || offset != int64(len(u.data)) {
		delete(f.uploads, uploadID)
		return "", uploadGone("FinishUpload", p, "no session at that offset")
	}
	delete(f.uploads, uploadID)
	if err := f.parentLocked("FinishUpload", p); err != nil {
		return "", err
	}
	data := append(u.data, b...)
	t := f.Now().Truncate(time.Second)
	if old, ok := f.objs[fold(p)]; ok && old.entry.IsDir {
		return "", &remote.Error{Kind: remote.ErrExists, Op: "FinishUpload", Path: p, Detail: "a folder has that name"}
	}
	e := remote.Entry{Path: f.storedLocked(p), Size: int64(len(data)), ModTime: t, ServerModTime: t, ETag: f.nextETag()}
	f.objs[fold(p)] = &object{entry: e, data: bytes.Clone(data)}
	return e.ETag, nil
}

// CancelUpload implements remote.ChunkedUploader.
func (f *Fake) CancelUpload(_ context.Context, p, uploadID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginChunk("CancelUpload", p); err != nil {
		return err
	}
	delete(f.uploads, uploadID)
	return nil
}

// UploadOffset says where a session stands (the optional interface the
// cache asks before resuming, as davclient.Client.UploadOffset):
// ErrUploadGone when the fake does not know it.
func (f *Fake) UploadOffset(_ context.Context, p, uploadID string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.beginChunk("UploadOffset", p); err != nil {
		return 0, err
	}
	u := f.uploads[uploadID]
	if u == nil || fold(u.path) != fold(p) {
		return 0, uploadGone("UploadOffset", p, "no such upload session")
	}
	return int64(len(u.data)), nil
}
