package writes

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// QueueItem is one pending upload as `odfb status` shows it.
type QueueItem struct {
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	Sent      int64     `json:"sent"` // bytes read for the running upload
	Uploading bool      `json:"uploading"`
	Open      bool      `json:"open,omitempty"`
	Started   time.Time `json:"started,omitempty"`
	Queued    time.Time `json:"queued,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	NextTry   time.Time `json:"next_try,omitempty"`
	Chunked   bool      `json:"chunked,omitempty"`
	Offset    int64     `json:"offset,omitempty"` // confirmed by the server (chunked)
}

// Status is the write side's state.
type Status struct {
	Queue        []QueueItem    `json:"queue"`
	LostFound    []LostItem     `json:"lost_found"`
	Conflicts    []ConflictItem `json:"conflicts"`
	AuthError    string         `json:"auth_error,omitempty"`
	Offline      bool           `json:"offline"`
	ContentBytes int64          `json:"content_bytes"`
	StagingBytes int64          `json:"staging_bytes"`
	CacheDir     string         `json:"cache_dir"`
	Now          time.Time      `json:"now"`
}

// Status returns the upload queue, failures and lost+found; the facade
// adds Offline and ContentBytes.
func (w *Writer) Status() Status {
	st := Status{CacheDir: w.cacheDir, Now: w.now()}
	w.mu.Lock()
	for _, pd := range w.byPath {
		if !pd.isCommitted() && pd.opens == 0 {
			continue
		}
		st.Queue = append(st.Queue, QueueItem{Path: pd.rec.Path, Size: pd.size, Sent: pd.sent, Uploading: pd.isUploading(),
			Open: pd.opens > 0, Started: pd.started, Queued: pd.rec.Queued, Attempts: pd.rec.Attempts,
			LastError: pd.rec.LastError, NextTry: pd.rec.NextTry, Chunked: pd.size > w.opts.PutLimit, Offset: pd.rec.Offset})
		st.StagingBytes += pd.size
	}
	st.Conflicts = append(st.Conflicts, w.conflicts...)
	st.AuthError = w.authErr
	w.mu.Unlock()
	st.LostFound = w.LostFound()
	sort.Slice(st.Queue, func(i, j int) bool { return st.Queue[i].Path < st.Queue[j].Path })
	return st
}

// SyncError lists the uploads a Sync could not complete.
type SyncError struct {
	Failed []QueueItem
	Lost   []LostItem
}

func (e *SyncError) Error() string {
	var parts []string
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("%s: %s", f.Path, f.LastError))
	}
	for _, l := range e.Lost {
		parts = append(parts, fmt.Sprintf("%s: refused (%s), moved to %s", l.Path, l.Reason, l.File))
	}
	return fmt.Sprintf("%d uploads did not reach the server: %s", len(parts), strings.Join(parts, "; "))
}

// Sync uploads every journaled file now (skipping the write-back wait
// and any backoff) and waits until each is on the server, or has failed
// an attempt made after Sync began, or went to lost+found. It waits for
// the version journaled (flushed or closed) when it began: changes not
// yet flushed, and a file's later versions, are not waited for.
func (w *Writer) Sync(ctx context.Context) error {
	type want struct {
		pd    *pending
		tries int
		gen   uint64 // the version journaled when Sync began
	}
	w.mu.Lock()
	lostBefore := len(w.lost)
	var wants []want
	for _, pd := range w.byPath {
		if !pd.isCommitted() {
			continue
		}
		// Forced until this Sync ends, whatever happens to the file
		// meanwhile (its last close, an upload of another version).
		pd.forced++
		pd.rec.NextTry = time.Time{}
		wants = append(wants, want{pd, pd.tries, pd.savedGen})
	}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		for _, x := range wants {
			x.pd.forced--
		}
		w.mu.Unlock()
	}()
	w.kick()
	var failed []QueueItem
	w.mu.Lock()
	err := w.waitLocked(ctx, func() bool {
		failed = failed[:0]
		for _, x := range wants {
			pd := x.pd
			_, done := pd.uploadedLocked(x.gen)
			switch {
			case pd.isGone() || !pd.isCommitted():
			case done:
				// The version closed before Sync began is up; what the
				// application wrote since (and has not closed) is not ours
				// to wait for.
			case pd.tries > x.tries && !pd.isUploading() && pd.lastErr != nil:
				failed = append(failed, QueueItem{Path: pd.rec.Path, Size: pd.size, Attempts: pd.rec.Attempts, LastError: pd.lastErr.Error(), NextTry: pd.rec.NextTry})
			default:
				return false
			}
		}
		return true
	})
	lost := append([]LostItem(nil), w.lost[lostBefore:]...)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	if len(failed) > 0 || len(lost) > 0 {
		return &SyncError{Failed: failed, Lost: lost}
	}
	return nil
}

// Close drains the queue (up to DrainTimeout), then stops the uploader,
// and returns how many uploads are left: they stay in the journal and
// resume at the next run.
func (w *Writer) Close() int {
	left := 0
	// Handles still open are dead once the filesystem is gone (the
	// kernel may not deliver their release): journal what they wrote and
	// upload it like everything else.
	w.mu.Lock()
	var open []*pending
	for _, pd := range w.byPath {
		if pd.opens > 0 {
			open = append(open, pd)
		}
	}
	for pd := range w.lostOpen { // refused while open: to lost+found
		open = append(open, pd)
	}
	w.mu.Unlock()
	for _, pd := range open {
		var le *LostError
		if err := w.commit(context.Background(), pd, false); err != nil && !errors.As(err, &le) {
			w.log.Warn("cannot journal a file still open at exit", "path", pd.rec.Path, "err", err)
		}
	}
	w.mu.Lock()
	w.closing = true
	n := 0
	for _, pd := range w.byPath {
		if pd.isCommitted() {
			n++
		}
	}
	w.mu.Unlock()
	if n > 0 {
		w.log.Info("uploading pending files before exit", "files", n, "timeout", w.opts.DrainTimeout.String())
		ctx, cancel := context.WithTimeout(context.Background(), w.opts.DrainTimeout)
		w.kick()
		w.mu.Lock()
		err := w.waitLocked(ctx, func() bool {
			left = 0
			for _, pd := range w.byPath {
				if pd.isCommitted() {
					left++
				}
			}
			return left == 0
		})
		w.mu.Unlock()
		if err != nil {
			w.log.Warn("uploads still pending at exit; they stay in the journal and resume at the next mount", "files", left, "cache", w.cacheDir)
		}
		cancel()
	}
	w.cancel()
	w.wg.Wait()
	w.jrn.close()
	w.mu.Lock()
	for _, pd := range w.byPath {
		if pd.f != nil {
			pd.f.Close()
			pd.f = nil
		}
	}
	w.mu.Unlock()
	return left
}

// PendingUploads counts journaled files not yet on the server.
func (w *Writer) PendingUploads() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, pd := range w.byPath {
		if pd.isCommitted() {
			n++
		}
	}
	return n
}
