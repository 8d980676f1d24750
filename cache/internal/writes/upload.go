package writes

// Locks here (order: top of staging.go): Writer.mu around every change of
// a pending file's state, upCtl.readMu (never with Writer.mu) around each
// read of a staging file by a PUT. Sends, and the disposal of an
// uploaded file's staging file (retireStagingLocked), run without
// Writer.mu.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odfb/odfb/cache/internal/kinds"
	"github.com/odfb/odfb/cache/internal/metadb"
	"github.com/odfb/odfb/remote"
)

// uploadOffsetter is implemented by remotes that can say where a REST
// upload session stands (davclient.Client.UploadOffset).
type uploadOffsetter interface {
	UploadOffset(ctx context.Context, path, uploadID string) (int64, error)
}

// run is the scheduler: it starts uploads that are due, up to Transfers
// at a time, and sleeps until the next one is.
func (w *Writer) run() {
	defer w.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := w.schedule()
		if !next.IsZero() {
			d := max(next.Sub(w.now()), 10*time.Millisecond)
			timer.Reset(d)
		}
		select {
		case <-w.ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// dueLocked reports whether pd may start uploading now; when it may later,
// when is that time.
func (w *Writer) dueLocked(pd *pending, now time.Time) (bool, time.Time) {
	force := pd.forced > 0
	if pd.isGone() || pd.isUploading() || pd.holds > 0 || pd.mutating > 0 || !pd.isCommitted() || pd.savedGen != pd.gen && !force && !w.closing {
		return false, time.Time{}
	}
	if pd.opens > 0 && !force && !w.closing {
		return false, time.Time{}
	}
	if pd.uploadedGen >= pd.savedGen && !(pd.rec.ContentDone && pd.rec.ModTimeSet) {
		return false, time.Time{}
	}
	at := pd.readyAt
	if force || w.closing {
		at = time.Time{}
	}
	if pd.rec.NextTry.After(at) {
		at = pd.rec.NextTry
	}
	if at.After(now) {
		return false, at
	}
	return true, time.Time{}
}

func (w *Writer) schedule() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	var next time.Time
	for _, pd := range w.byPath {
		if w.active >= w.opts.Transfers {
			break
		}
		ok, at := w.dueLocked(pd, now)
		if !ok {
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
			continue
		}
		w.moveLocked(pd, stateUploading)
		pd.sent = 0
		pd.started = now
		ctx, cancel := context.WithCancel(w.ctx)
		ctl := &upCtl{ctx: ctx, cancel: cancel}
		pd.up = ctl
		w.active++
		rec, gen := pd.rec, pd.savedGen
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer cancel()
			w.upload(pd, ctl, rec, gen)
		}()
	}
	if w.active >= w.opts.Transfers {
		return time.Time{} // an upload ending wakes us
	}
	return next
}

// upCtl controls one running upload attempt.
type upCtl struct {
	ctx    context.Context // of the attempt: cancelled by a change of the file (stopUpload)
	cancel context.CancelFunc
	// canceled: a change of the file cancelled this attempt (under w.mu).
	// finishing: the attempt commits (the last byte of the PUT body was
	// read, or FinishUpload is sent); it is no longer cancelled (under
	// w.mu). Exactly one of them wins.
	canceled, finishing bool
	// starting: a StartUpload is in flight (under w.mu). A change of the
	// file then marks the attempt canceled but lets the request end: cut
	// off, it may still open the session (and lock the file) on the
	// server after a CancelUpload sent at once found nothing to cancel.
	starting bool
	// readMu is held (read) by every read of the staging file; stopped,
	// set under it once the attempt is over, refuses later reads (an HTTP
	// transport may still read a cancelled request's body).
	readMu  sync.RWMutex
	stopped bool
	// sentTo is the path this attempt committed the staged content at
	// (rec.Path, or a conflict copy); "" when it sent no content (only
	// an mtime). Used by the upload goroutine only.
	sentTo string
}

// upload runs one attempt and records its outcome.
func (w *Writer) upload(pd *pending, ctl *upCtl, rec JournalRecord, gen uint64) {
	etag, err := w.send(pd, ctl, rec)
	w.mu.Lock()
	canceled := ctl.canceled && err != nil
	w.mu.Unlock()
	if canceled {
		// The file changes: not a failure (no attempt counted, no
		// backoff). A REST session must not be resumed with the new
		// content: cancel it and forget it before letting go of the file.
		w.dropSession(pd)
	}
	w.mu.Lock()
	defer func() {
		w.attemptEndedLocked(pd)
		pd.up = nil
		if !canceled {
			pd.tries++
		}
		w.active--
		w.broadcastLocked()
		w.mu.Unlock()
		// What the attempt changed in the journal (the new base version,
		// the record's removal, the retry state, a move to lost+found) is
		// durable before the uploader goes on: a crash must not find the
		// record of a version the server no longer has as its base (the
		// next attempt would take our own upload for someone else's
		// change and make a conflict copy; internal/matrix's kill case).
		w.jrn.flush()
		w.kick()
	}()
	if canceled {
		w.log.Info("upload cancelled because the file changed; it goes up again after its last close", "path", pd.rec.Path)
		return
	}
	if err == nil {
		if retire := w.uploadedLocked(pd, ctl, rec, gen, etag); retire != nil {
			// The file is forgotten (not in byPath, no handle) but still
			// uploading for its waiters: its staging file becomes cached
			// content without w.mu, and only then is it uploaded, so a
			// Sync that returns finds it read back from the cache.
			w.mu.Unlock()
			retire()
			w.mu.Lock()
			w.moveLocked(pd, stateUploaded)
		}
		return
	}
	if errors.Is(err, context.Canceled) && w.ctx.Err() != nil {
		return // shutting down: the record stays for the next run
	}
	pd.lastErr = err
	if outcome(err) == outcomeLost {
		w.log.Error("the server refuses this file for good; it was moved to lost+found", "path", rec.Path, "err", err)
		w.toLostFoundLocked(pd, err)
		return
	}
	w.failedLocked(pd, rec, err)
}

// uploadedLocked records an attempt (of rec, generation gen) that put
// the content on the server as version etag: the record goes when
// nothing is left to send (and the file becomes local or uploaded), or
// is updated when a newer version or an mtime is still to go. For a file
// now uploaded and not open, it returns the disposal of its staging file,
// to be run without w.mu before the caller moves it to uploaded (nil
// otherwise).
func (w *Writer) uploadedLocked(pd *pending, ctl *upCtl, rec JournalRecord, gen uint64, etag string) func() {
	w.authErr = ""
	pd.lastErr = nil
	pd.uploadedGen = gen
	pd.rec.New, pd.rec.BaseETag, pd.rec.ETag = false, etag, etag
	pd.rec.UploadID, pd.rec.Offset, pd.rec.Finishing = "", 0, false
	pd.rec.Attempts, pd.rec.LastError, pd.rec.NextTry = 0, "", time.Time{}
	mtimeLeft := pd.rec.ModTimeSet && (pd.rec.ModTime != rec.ModTime || !rec.ModTimeSet)
	if gen != pd.gen || pd.savedGen != gen || mtimeLeft {
		if mtimeLeft && gen == pd.gen {
			pd.rec.ContentDone = true
		}
		w.jrn.put(pd.rec)
		return nil
	}
	if pd.rec.ModTimeSet {
		// Applied with this upload; a later upload of new content
		// keeps it (the application's mtime stays until changed).
		pd.rec.ModTimeSet = false
	}
	pd.rec.ContentDone = false
	gone := w.jrn.del(pd.rec.ID, pd.rec.Path, nil)
	if pd.opens > 0 {
		w.moveLocked(pd, stateLocal)
		return nil
	}
	delete(w.byPath, fold(pd.rec.Path))
	retire := w.retireStagingLocked(pd, ctl, rec, etag)
	if retire == nil {
		return nil
	}
	return func() {
		// The staging file becomes content (or goes) only once no record
		// names it.
		w.jrn.wait(gone)
		retire()
	}
}

// failedLocked records a failed attempt that is retried: backoff
// (doubling from RetryBase up to RetryMax; a server's Retry-After wins),
// the credentials' or the server's state for Status and retryFailedNow,
// and the journal.
func (w *Writer) failedLocked(pd *pending, rec JournalRecord, err error) {
	pd.rec.Attempts++
	pd.rec.LastError = err.Error()
	delay := w.opts.RetryBase << min(pd.rec.Attempts-1, 16)
	delay = min(delay, w.opts.RetryMax)
	var re *remote.Error
	if errors.As(err, &re) && re.RetryAfter > 0 {
		delay = max(delay, re.RetryAfter)
	}
	if errors.Is(err, remote.ErrAuth) {
		w.authErr = err.Error()
	}
	if errors.Is(err, remote.ErrAuth) || errors.Is(err, remote.ErrUnavailable) {
		w.stalled.Store(true)
	}
	pd.rec.NextTry = w.now().Add(delay)
	w.log.Warn("upload failed; it stays queued and is retried", "path", rec.Path, "attempt", pd.rec.Attempts, "retry_in", delay.Round(time.Second).String(), "err", err)
	w.jrn.put(pd.rec)
}

// RetryFailedNow sends again at once the uploads that are waiting out a
// backoff because the credentials were refused or the server could not be
// reached: the server has just answered a listing, so the login was
// renewed (`odfb login` again, a new cookie file) or the network is back,
// and waiting up to RetryMax for nothing would leave data unsent.
func (w *Writer) RetryFailedNow() {
	if !w.stalled.Swap(false) {
		return // called after every answer: nothing waits for one
	}
	w.mu.Lock()
	now := w.now()
	n := 0
	for _, pd := range w.byPath {
		if pd.isUploading() || pd.lastErr == nil || !pd.rec.NextTry.After(now) {
			continue
		}
		if errors.Is(pd.lastErr, remote.ErrAuth) || errors.Is(pd.lastErr, remote.ErrUnavailable) {
			pd.rec.NextTry = now
			n++
		}
	}
	w.mu.Unlock()
	if n > 0 {
		w.log.Info("the server answers again; retrying the uploads that were waiting for it now", "files", n)
		w.kick()
	}
}

type uploadOutcome int

const (
	outcomeRetry uploadOutcome = iota
	outcomeLost
)

// outcome classifies a failed upload: refusals that cannot change by
// waiting go to lost+found; everything else is retried, forever.
func outcome(err error) uploadOutcome {
	for _, k := range []error{remote.ErrInvalidName, remote.ErrTooLarge, remote.ErrForbidden,
		remote.ErrNotSupported, remote.ErrConflict, remote.ErrNotDir, remote.ErrOutsideRoot} {
		if errors.Is(err, k) {
			return outcomeLost
		}
	}
	return outcomeRetry
}

// progressReader reads the staging file for an upload and counts how far
// it has read. Once the attempt is cancelled it reads nothing more, so a
// cancelled PUT never gets its last byte (and is never committed); the
// read of the last byte, if the attempt is not cancelled by then, makes
// it uncancellable (finishing).
type progressReader struct {
	r    io.ReaderAt
	base int64
	size int64 // of the whole file
	max  *atomic.Int64
	pd   *pending
	w    *Writer
	ctl  *upCtl
}

func (p *progressReader) ReadAt(b []byte, off int64) (int, error) {
	p.ctl.readMu.RLock()
	if p.ctl.stopped {
		p.ctl.readMu.RUnlock()
		return 0, context.Canceled
	}
	n, err := p.r.ReadAt(b, p.base+off)
	p.ctl.readMu.RUnlock()
	end := p.base + off + int64(n)
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	if p.ctl.canceled {
		return 0, context.Canceled
	}
	if end >= p.size {
		p.ctl.finishing = true
	}
	if end > p.max.Load() {
		p.max.Store(end)
		p.pd.sent = end
	}
	return n, err
}

// send uploads rec's staged content (and its explicit mtime) and returns
// the new ETag.
func (w *Writer) send(pd *pending, ctl *upCtl, rec JournalRecord) (string, error) {
	ctx := ctl.ctx
	if rec.Abandoned != "" || rec.Placeholder {
		// An earlier session's lock or placeholder is still on the
		// server: a PUT or a new session would be refused (423) or
		// taken for someone else's file (412).
		if err := w.cleanupSession(ctx, pd); err != nil {
			return "", err
		}
		w.mu.Lock()
		res := w.jrn.put(pd.rec)
		w.mu.Unlock()
		if err := w.jrn.wait(res); err != nil {
			return "", err
		}
	}
	etag := rec.ETag
	// A write after the attempt was scheduled cancels it (stopUpload), so
	// this is the time of the content being sent.
	w.mu.Lock()
	written := pd.mtime
	w.mu.Unlock()
	if !rec.ContentDone {
		f, err := os.Open(filepath.Join(w.dir, rec.ID))
		if err != nil {
			return "", fmt.Errorf("staging file of %s: %w", rec.Path, err)
		}
		defer func() {
			ctl.readMu.Lock()
			ctl.stopped = true
			ctl.readMu.Unlock()
			f.Close()
		}()
		st, err := f.Stat()
		if err != nil {
			return "", err
		}
		size := st.Size()
		if size == 0 {
			// No byte to read: the PUT may commit as soon as it is sent.
			w.mu.Lock()
			ctl.finishing = !ctl.canceled
			canceled := ctl.canceled
			w.mu.Unlock()
			if canceled {
				return "", context.Canceled
			}
		}
		var hi atomic.Int64
		body := func(base int64) io.ReaderAt {
			return &progressReader{r: f, base: base, size: size, max: &hi, pd: pd, w: w, ctl: ctl}
		}
		var at string
		if size <= w.opts.PutLimit {
			etag, at, err = w.put(ctx, pd, rec, body(0), size)
		} else {
			etag, at, err = w.chunked(ctx, pd, ctl, rec, body, size)
		}
		if err != nil {
			return "", err
		}
		ctl.sentTo = at
	}
	if rec.ModTimeSet {
		w.mu.Lock()
		path := pd.rec.Path
		w.mu.Unlock()
		if err := w.remote.SetModTime(ctx, path, rec.ModTime); err != nil {
			// The content is there: only the mtime is left.
			w.mu.Lock()
			pd.rec.ContentDone, pd.rec.ETag = true, etag
			w.mu.Unlock()
			return "", err
		}
	}
	w.recordUploaded(rec, etag, ctl.sentTo, written)
	return etag, nil
}

// put sends a file in one PUT, or its conflict copy on a 412. It returns
// the new ETag and the path the content went to.
func (w *Writer) put(ctx context.Context, pd *pending, rec JournalRecord, body io.ReaderAt, size int64) (string, string, error) {
	if err := w.markFinishing(pd); err != nil {
		return "", "", err
	}
	opts := remote.PutOptions{IfMatch: rec.BaseETag, IfNoneMatch: rec.New}
	etag, err := w.remote.Put(ctx, rec.Path, body, size, opts)
	if err == nil || !(errors.Is(err, remote.ErrPrecondition) || errors.Is(err, remote.ErrExists)) {
		return etag, rec.Path, err
	}
	// A 412 can follow our own PUT whose answer was lost (the retry finds
	// the file already there): if the server holds exactly our bytes, it
	// is done. Otherwise someone else changed (or created) it: keep both.
	if etag, ok := w.serverHasOurs(ctx, rec.Path, body, size); ok {
		return etag, rec.Path, nil
	}
	for i := 1; i <= 50; i++ {
		name := conflictName(rec.Path, w.now(), w.opts.Hostname, i)
		etag, err = w.remote.Put(ctx, name, body, size, remote.PutOptions{IfNoneMatch: true})
		if err == nil {
			w.conflictLogged(rec.Path, name)
			return etag, name, nil
		}
		if !(errors.Is(err, remote.ErrPrecondition) || errors.Is(err, remote.ErrExists)) {
			return "", "", err
		}
	}
	return "", "", err
}

// chunked sends a file through the REST upload session, saving the
// session id and confirmed offset in the journal after every chunk. On a
// server without the REST API (a plain WebDAV server: the remote has no
// ChunkedUploader, or its calls answer ErrNotSupported) the file is too
// large for that server: kinds.ErrTooLarge, which sends it to lost+found (and
// is EFBIG for --sync-upload).
func (w *Writer) chunked(ctx context.Context, pd *pending, ctl *upCtl, rec JournalRecord, body func(int64) io.ReaderAt, size int64) (string, string, error) {
	noChunks := &kinds.Error{Kind: kinds.ErrTooLarge, Op: "upload", Path: rec.Path,
		Detail: fmt.Sprintf("%d bytes is over --put-limit (%d) and this server has no chunked upload", size, w.opts.PutLimit)}
	cu, ok := w.remote.(remote.ChunkedUploader)
	if !ok {
		return "", "", noChunks
	}
	etag, at, err := w.session(ctx, cu, pd, ctl, rec, body, size)
	if errors.Is(err, remote.ErrNotSupported) {
		// davclient finds out at the first StartUpload (contextinfo
		// answers 404, 405, 501 or not SharePoint's JSON); the server
		// has not been touched.
		return "", "", noChunks
	}
	return etag, at, err
}

// session runs the REST upload session for chunked. It returns the new
// ETag (FinishUpload's answer) and the path the content went to.
func (w *Writer) session(ctx context.Context, cu remote.ChunkedUploader, pd *pending, ctl *upCtl, rec JournalRecord, body func(int64) io.ReaderAt, size int64) (string, string, error) {
	path, err := w.sessionTarget(ctx, rec)
	if err != nil {
		return "", "", err
	}
	save := func(id string, off int64) error {
		w.mu.Lock()
		pd.rec.UploadID, pd.rec.Offset = id, off
		res := w.jrn.put(pd.rec)
		w.mu.Unlock()
		return w.jrn.wait(res)
	}
	for restart := 0; restart < 3; restart++ {
		id, off, err := w.resumeOffset(ctx, path, rec.UploadID, rec.Offset)
		if err != nil {
			return "", "", err
		}
		etag, err := w.sessionAttempt(ctx, cu, ctl, path, id, off, body, size, save, func() error { return w.markFinishing(pd) })
		if err == nil {
			return etag, path, nil
		}
		if !errors.Is(err, remote.ErrUploadGone) {
			return "", "", err
		}
		w.log.Info("upload session expired; starting over", "path", path)
		// "Gone" may only mean the client could not confirm the session
		// (its status query failed too): cancel it, or a session the
		// server still holds locks the file against the new one (423).
		w.mu.Lock()
		given := pd.rec.UploadID // the id the attempt saved (it may have made it)
		w.mu.Unlock()
		if cerr := w.cancelGiven(ctx, cu, path, given); cerr != nil {
			w.mu.Lock()
			pd.rec.Abandoned = given // cleanupSession cancels it before the next attempt
			w.mu.Unlock()
			if err := save("", 0); err != nil {
				return "", "", err
			}
			return "", "", cerr
		}
		rec.UploadID, rec.Offset = "", 0
		if err := save("", 0); err != nil {
			return "", "", err
		}
	}
	return "", "", &remote.Error{Kind: remote.ErrUploadGone, Op: "upload", Path: path, Detail: "upload session lost three times in a row"}
}

// cancelGiven cancels session id (if any) at path; a session the server
// no longer knows counts as cancelled.
func (w *Writer) cancelGiven(ctx context.Context, cu remote.ChunkedUploader, path, id string) error {
	if id == "" {
		return nil
	}
	err := cu.CancelUpload(ctx, path, id)
	if errors.Is(err, remote.ErrUploadGone) || errors.Is(err, remote.ErrNotFound) {
		return nil
	}
	return err
}

// sessionTarget is where a new REST session of rec goes. The session has
// no If-Match: the version is checked first (one PROPFIND, for large
// files only), and a file changed on the server meanwhile sends ours to a
// conflict copy. A session being resumed keeps its path.
func (w *Writer) sessionTarget(ctx context.Context, rec JournalRecord) (string, error) {
	if rec.UploadID != "" || (rec.BaseETag == "" && !rec.New) {
		return rec.Path, nil
	}
	e, err := w.remote.Stat(ctx, rec.Path)
	switch {
	case err == nil && (rec.New || !sameETag(e.ETag, rec.BaseETag)):
		path := w.freeConflictName(ctx, rec.Path)
		w.conflictLogged(rec.Path, path)
		return path, nil
	case err == nil, errors.Is(err, remote.ErrNotFound):
		return rec.Path, nil
	default:
		return "", err
	}
}

// resumeOffset asks the server where session id stands, when the remote
// can say (a session it no longer knows starts over: id ""); otherwise
// the journal's offset is taken.
func (w *Writer) resumeOffset(ctx context.Context, path, id string, off int64) (string, int64, error) {
	if id == "" {
		return id, off, nil
	}
	uo, ok := w.remote.(uploadOffsetter)
	if !ok {
		return id, off, nil
	}
	o, err := uo.UploadOffset(ctx, path, id)
	switch {
	case errors.Is(err, remote.ErrUploadGone):
		return "", off, nil
	case err != nil:
		return "", 0, err
	}
	return id, o, nil
}

// sessionAttempt runs one REST session of size bytes to path: started
// (and saved) unless it resumes id at off, continued chunk by chunk
// (each confirmed offset saved), finished. It returns the new ETag;
// ErrUploadGone when the server lost the session.
func (w *Writer) sessionAttempt(ctx context.Context, cu remote.ChunkedUploader, ctl *upCtl, path, id string, off int64,
	body func(int64) io.ReaderAt, size int64, save func(string, int64) error, finishing func() error) (string, error) {
	chunk := w.opts.ChunkSize
	var err error
	if id == "" || off <= 0 {
		if id == "" {
			id = metadb.NewUploadID()
		}
		if err := save(id, 0); err != nil {
			return "", err
		}
		n := min(chunk, size)
		w.mu.Lock()
		if ctl.canceled {
			w.mu.Unlock()
			return "", context.Canceled
		}
		ctl.starting = true
		w.mu.Unlock()
		off, err = cu.StartUpload(ctx, path, id, io.NewSectionReader(body(0), 0, n), n)
		w.mu.Lock()
		ctl.starting = false
		canceled := ctl.canceled
		w.mu.Unlock()
		if err != nil {
			return "", err
		}
		if err := save(id, off); err != nil {
			return "", err
		}
		if canceled {
			// The file changed while the session was being opened: it is
			// open now, under an id the record holds, and is cancelled
			// (dropSession) before the next attempt.
			ctl.cancel()
			return "", context.Canceled
		}
	} else {
		w.log.Info("resuming a chunked upload", "path", path, "offset", off, "size", size)
	}
	for err == nil && size-off > chunk {
		off, err = cu.ContinueUpload(ctx, path, id, off, io.NewSectionReader(body(off), 0, chunk), chunk)
		if err == nil {
			err = save(id, off)
		}
	}
	if err != nil {
		return "", err
	}
	// From here the old version is committed whole: a change of the
	// file waits for FinishUpload instead of cancelling it.
	w.mu.Lock()
	if ctl.canceled {
		w.mu.Unlock()
		return "", context.Canceled
	}
	ctl.finishing = true
	w.mu.Unlock()
	if err := finishing(); err != nil {
		return "", err
	}
	n := size - off
	return cu.FinishUpload(ctx, path, id, off, io.NewSectionReader(body(off), 0, n), n)
}

// recordUploaded shows the uploaded file in its parent's listing with the
// ETag the server returned, so that the next ls costs no PROPFIND. Office
// files, which SharePoint rewrites after upload, are listed again from
// the server instead.
func (w *Writer) recordUploaded(rec JournalRecord, etag, sentTo string, written time.Time) {
	if sentTo != "" && !strings.EqualFold(sentTo, rec.Path) {
		// A conflict: ours went up as a copy, and the server's version
		// stays at rec.Path. List the copy; ask again for the original,
		// whose ETag and size are the server's, not ours.
		w.h.Invalidate(remote.Dir(rec.Path))
		rec.Path = sentTo
	}
	if officeFile(rec.Path) || etag == "" {
		w.h.Invalidate(remote.Dir(rec.Path))
		return
	}
	st, err := os.Stat(filepath.Join(w.dir, rec.ID))
	if err != nil {
		return
	}
	now := w.now()
	mt := written
	if rec.ModTimeSet {
		// The server holds the application's time now; a kept time of
		// this version (uploaded before the mtime was set) must not hide it.
		mt = rec.ModTime
		if err := metadb.ForgetMtimes(w.db, []string{etag, rec.BaseETag}); err != nil {
			w.log.Warn("cannot forget the mtimes of replaced versions", "err", err)
		}
	} else if sentTo != "" {
		if err := metadb.KeepMtime(w.db, etag, rec.BaseETag, mt); err != nil {
			w.log.Warn("cannot record the mtime of an uploaded file; it will show the server's time", "path", rec.Path, "err", err)
		}
	}
	e := remote.Entry{Path: rec.Path, Size: st.Size(), ModTime: mt, ServerModTime: now, ETag: etag}
	w.h.SetEntry(e)
	w.setRecent(rec.Path, &e)
	if rec.ModTimeSet {
		// A PROPPATCH may make a new version (SharePoint can bump the
		// ETag): ask the server again before the next edit relies on it.
		w.h.Invalidate(remote.Dir(rec.Path))
	}
}

// retireStagingLocked disposes of the staging file of pd, whose upload
// (attempt ctl, of rec) just ended with the content on the server at
// ETag etag and nothing left to send: it becomes the content-cache entry
// of that version, every block present, so that reading the file back
// costs no GET. Only when the staging file is exactly what the server
// got: this attempt sent its content to rec.Path (not a conflict copy,
// not an mtime-only attempt), the server named the version, no change
// of the file began since (the caller checked the generation; mutating
// and the path are checked here), and it is not an Office file, which
// SharePoint rewrites after upload. Otherwise it is deleted. Called with
// w.mu held, it decides; the disk work (a rename into the content cache
// and a directory fsync, or a removal) is the function it returns, run
// after w.mu is let go: the file is forgotten by then (no longer in
// byPath, no handle open), so nothing else touches its staging file. An
// unlink of the path in that moment may drop the content before it is
// adopted; the record left then names a version no listing shows, and
// goes with the next version of the path or with LRU eviction.
func (w *Writer) retireStagingLocked(pd *pending, ctl *upCtl, rec JournalRecord, etag string) func() {
	src := filepath.Join(w.dir, pd.rec.ID)
	ok := ctl.sentTo != "" && ctl.sentTo == rec.Path && etag != "" && !officeFile(rec.Path) &&
		pd.rec.Path == rec.Path && !pd.isGone() && pd.mutating == 0 && pd.fetched && pd.f == nil
	size := pd.size
	return func() {
		if ok {
			if st, err := os.Stat(src); err == nil && st.Size() == size {
				if w.h.AdoptContent(rec.Path, etag, st.Size(), src) {
					return
				}
			}
		}
		os.Remove(src)
	}
}

// officeFile reports the types SharePoint rewrites after upload
// (property promotion; JPEGs gain 12 bytes of JFIF data, docs/sharepoint.md),
// whose size and bytes then differ from ours.
func officeFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	switch ext {
	case ".docx", ".docm", ".dotx", ".dotm", ".xlsx", ".xlsm", ".xltx", ".xltm", ".pptx", ".pptm", ".potx", ".potm", ".ppsx", ".ppsm",
		".jpg", ".jpeg", ".jpe", ".jfif":
		return true
	}
	return false
}

// serverHasOurs reports whether the file at p on the server has exactly
// size bytes equal to body (one PROPFIND and, when the size matches, one
// GET; only after a 412).
func (w *Writer) serverHasOurs(ctx context.Context, p string, body io.ReaderAt, size int64) (string, bool) {
	e, err := w.remote.Stat(ctx, p)
	if err != nil || e.IsDir || e.Size != size {
		return "", false
	}
	rc, info, err := w.remote.Get(ctx, p, 0, -1)
	if err != nil {
		return "", false
	}
	defer rc.Close()
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for off := int64(0); off < size; {
		n := int(min(int64(len(a)), size-off))
		if _, err := io.ReadFull(rc, a[:n]); err != nil {
			return "", false
		}
		if m, err := body.ReadAt(b[:n], off); m != n && err != nil {
			return "", false
		}
		if string(a[:n]) != string(b[:n]) {
			return "", false
		}
		off += int64(n)
	}
	etag := info.ETag
	if etag == "" {
		etag = e.ETag
	}
	w.log.Info("the server already holds this upload (an earlier answer was lost)", "path", p)
	return etag, true
}

// markFinishing records, durably, that the request which makes pd's
// staging content the server's current version is about to go out
// (JournalRecord.Finishing; resolveFinishing reads it at the next start).
func (w *Writer) markFinishing(pd *pending) error {
	w.mu.Lock()
	if pd.rec.Finishing || !pd.isCommitted() {
		w.mu.Unlock()
		return nil
	}
	pd.rec.Finishing = true
	res := w.jrn.put(pd.rec)
	w.mu.Unlock()
	return w.jrn.wait(res)
}

// resolveFinishing runs at a start, before the mount serves anything:
// for each record whose last run died with the final request of its
// upload out (Finishing), it asks the server whether that upload landed
// — the file there holds exactly the staged bytes — and if so records
// the server's ETag as the version the content is at. Without this, a
// change made to the file before its upload is tried again would be
// sent against the older version, refused (412) and kept as a conflict
// copy of our own upload (internal/matrix's kill case). When the server
// cannot be asked, the record stays as it is and the attempt's own 412
// check decides later.
func (w *Writer) resolveFinishing(ctx context.Context) {
	for _, pd := range w.byPath {
		if !pd.rec.Finishing || pd.rec.ContentDone {
			continue
		}
		f, err := os.Open(filepath.Join(w.dir, pd.rec.ID))
		if err != nil {
			continue
		}
		etag, ours := w.serverHasOurs(ctx, pd.rec.Path, f, pd.size)
		f.Close()
		if !ours && ctx.Err() != nil {
			return
		}
		pd.rec.Finishing = false
		switch {
		case ours && !pd.rec.ModTimeSet:
			// The upload is done, as if its answer had come: the file is
			// listed with the server's ETag, the record and the staging
			// file go.
			w.log.Info("an upload cut by the end of the last run had landed", "path", pd.rec.Path)
			w.recordUploaded(pd.rec, etag, pd.rec.Path, pd.mtime)
			delete(w.byPath, fold(pd.rec.Path))
			staging := filepath.Join(w.dir, pd.rec.ID)
			w.jrn.wait(w.jrn.del(pd.rec.ID, pd.rec.Path, func() { os.Remove(staging) }))
			continue
		case ours:
			// Only the explicit mtime is left to send.
			pd.rec.New, pd.rec.BaseETag, pd.rec.ETag, pd.rec.ContentDone = false, etag, etag, true
			pd.rec.UploadID, pd.rec.Offset = "", 0
			pd.uploadedGen = pd.gen
		}
		if err := w.jrn.wait(w.jrn.put(pd.rec)); err != nil {
			w.log.Warn("cannot update the upload journal", "path", pd.rec.Path, "err", err)
		}
	}
}
